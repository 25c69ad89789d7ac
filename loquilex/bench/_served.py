"""A real ``loquilex serve`` in a child process, for benchmarks and tests that meet the
server as users do: started on a free port, ready once ``/healthz`` answers, stopped with
SIGTERM (its graceful path)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

__all__ = ["Served", "free_port", "served"]


@dataclass
class Served:
    """A running ``loquilex serve``: its port and process, and where clients reach it."""

    port: int
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(
    data_dir: Path,
    log: Path,
    env: Mapping[str, str] | None = None,
    start_s: float = 60,
    wrapper: Sequence[str] = (),
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Yield the running server's process and port; its output goes to ``log``.
    ``wrapper`` runs it under another command (``taskset -c 0``: one core)."""
    port = free_port()
    full_env = {**os.environ, "LX_DATA_DIR": str(data_dir), **(env or {})}
    command = [*wrapper, sys.executable, "-m", "loquilex", "serve", "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=full_env)
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        deadline = time.monotonic() + start_s
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start:\n" + log.read_text())
            time.sleep(0.1)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
