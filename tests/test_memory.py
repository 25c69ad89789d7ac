"""Freed heap memory goes back to the OS when the server trims (glibc's malloc_trim)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = """
import gc, json, psutil
from loquilex._memory import release_free_memory
rss = lambda: psutil.Process().memory_info().rss / 1e6
junk = [bytearray(1000) for _ in range(200_000)]   # 200 MB of small blocks
keep = junk[::50]                                    # survivors scattered through the heap
del junk; gc.collect()
freed = rss()
trimmed = release_free_memory()
print(json.dumps({"freed": freed, "after": rss(), "trimmed": trimmed, "kept": len(keep)}))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_freed_memory_is_returned_to_the_os() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    figures = json.loads(out.stdout)
    assert figures["trimmed"] is True
    # Without the trim the 196 MB freed stay in the process (measured: 234 → 46 MB with it).
    assert figures["freed"] - figures["after"] > 100, figures
