"""Keep the long-running commands' memory flat: the allocator, and freed memory.

glibc's malloc fragments under what a server does: decodes allocate buffers of ever-changing
sizes (CTranslate2's, numpy's) on several threads while sessions come and go. Measured on
the whole-server soak, its RSS grew about 20 MB per minute of session churn and never came
back; with jemalloc the same run stays within 30 MB of its level after warm-up, at the same
CPU (docs/PERFORMANCE.md, "Whole-server soak"). So ``loquilex serve`` and ``loquilex
live`` start themselves again with jemalloc preloaded when the system has it (Debian's
``libjemalloc2``, which ``scripts/install-system-deps.sh`` and the Docker image install):
:func:`use_jemalloc`.
``LX_ALLOCATOR=system`` keeps glibc's.

Under glibc, the server also hands free heap pages back every minute
(:func:`release_free_memory`): one stream's RSS settles about 60 MB lower with it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["allocator_in_use", "jemalloc_library", "release_free_memory", "use_jemalloc"]

logger = logging.getLogger(__name__)

#: Where distributions put jemalloc's shared library.
_JEMALLOC_PATHS = (
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/aarch64-linux-gnu/libjemalloc.so.2",
    "/usr/lib64/libjemalloc.so.2",
    "/usr/lib/libjemalloc.so.2",
    "/usr/local/lib/libjemalloc.so.2",
)
_JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"
#: ``system`` keeps the C library's allocator.
ALLOCATOR_ENV = "LX_ALLOCATOR"


def jemalloc_library() -> str | None:
    """jemalloc's shared library on this system, or None."""
    return next((path for path in _JEMALLOC_PATHS if Path(path).is_file()), None)


def allocator_in_use() -> str:
    """``jemalloc`` when it is loaded into this process, else ``system``."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "system"
    return "jemalloc" if "libjemalloc" in maps else "system"


def use_jemalloc(argv: Sequence[str]) -> None:
    """Run ``python -m loquilex *argv`` again in this process with jemalloc preloaded,
    where it is installed and not loaded yet; returns only when it does not. Linux only;
    ``LX_ALLOCATOR=system`` opts out. Call it before any thread starts."""
    if not sys.platform.startswith("linux") or os.environ.get(ALLOCATOR_ENV) == "system":
        return
    preload = os.environ.get("LD_PRELOAD", "")
    library = jemalloc_library()
    # A preload that did not take (a broken library) must not loop: try once.
    if library is None or "jemalloc" in preload or allocator_in_use() == "jemalloc":
        return
    env = {**os.environ, "LD_PRELOAD": f"{library} {preload}".strip()}
    # Hand freed pages back within a second, from jemalloc's own thread: measured on the
    # soak, RSS about 20 MB lower than with its defaults (10 s decay), at the same slope.
    if not env.get("MALLOC_CONF"):  # the user's own wins
        env["MALLOC_CONF"] = _JEMALLOC_CONF
    logger.debug("restarting with %s preloaded", library)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, "-m", "loquilex", *argv], env)


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim  # glibc only; musl has none
    except (OSError, AttributeError):
        logger.debug("malloc_trim is not available; freed memory stays with the allocator")
        return None
    return trim


_MALLOC_TRIM = _find_malloc_trim()


def release_free_memory() -> bool:
    """Return free heap pages to the OS (``malloc_trim(0)``); False where there is no
    such call. Takes a few milliseconds; safe from any thread."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True
