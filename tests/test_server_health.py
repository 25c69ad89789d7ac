"""`loquilex serve` as a user starts it: a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import loquilex_bin

pytestmark = pytest.mark.model


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_binds_loopback_and_reports_health(data_dir: Path) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [loquilex_bin(), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "LX_DATA_DIR": str(data_dir)},
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                body = response.json()
            except httpx.TransportError:
                assert proc.poll() is None, "server exited early"
                time.sleep(0.2)
        assert body is not None
        assert body["status"] == "ok"
        assert body["model"] == "tiny.en"
        conns = [
            c
            for c in __import__("psutil").Process(proc.pid).net_connections()
            if c.status == "LISTEN"
        ]
        assert [c.laddr.ip for c in conns] == ["127.0.0.1"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    assert proc.returncode == 0
