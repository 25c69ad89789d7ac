"""The runtime image's recipe: what it copies exists, it runs as a non-root user, and its
health check (run as Docker would) passes against a real server and fails without one.
(No Docker engine here; docs/deploy.md says how the image was checked.)"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from loquilex.bench._served import free_port
from tests.server_harness import run_server

ROOT = Path(__file__).parents[1]
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def _instructions(name: str) -> list[str]:
    """Every ``name`` instruction's arguments, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [m[1].strip() for m in re.finditer(rf"^{name}\s+(.+)$", text, re.MULTILINE)]


def test_the_recipe_copies_real_files_and_installs_like_the_readme() -> None:
    for copy in _instructions("COPY"):
        *sources, _dest = copy.split()
        for source in sources:
            assert (ROOT / source).exists(), source
    (install,) = [r for r in _instructions("RUN") if "pip install" in r]
    # The runtime half of `make install`: same constraints, runtime requirements only.
    assert "-c constraints.txt -r requirements.txt" in install
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
    (user,) = _instructions("USER")
    assert user not in ("root", "0")
    assert _instructions("VOLUME") == ['["/data"]'] and "LX_DATA_DIR=/data" in DOCKERFILE
    assert _instructions("CMD")[-1] == '["loquilex", "serve"]'


@pytest.mark.model
def test_the_health_check_passes_on_a_live_server_and_fails_without_one(tmp_path: Path) -> None:
    (check,) = _instructions("HEALTHCHECK")
    command = json.loads(check[check.index("CMD") + 3 :].strip())
    assert command[0] == "python"  # the image's; here, this interpreter
    command[0] = sys.executable

    def health(port: int) -> int:
        env = {**os.environ, "LX_SERVER__PORT": str(port)}
        return subprocess.run(command, env=env, capture_output=True, timeout=30).returncode

    with run_server(tmp_path / "data", tmp_path / "server.log") as server:
        assert health(server.port) == 0
    assert health(free_port()) != 0
