"""A real ``redis-server`` on a free loopback port, for the cluster-mode bench and tests."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from loquilex.bench._served import free_port

__all__ = ["RedisServer", "redis_server"]


@dataclass
class RedisServer:
    port: int
    log: Path
    password: str | None = None
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start (or start again, on the same port): in memory only, like a fresh Redis."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (scripts/install-system-deps.sh)")
        command = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--protected-mode", "yes"]
        if self.password:
            command += ["--requirepass", self.password]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, password=self.password, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError as exc:
                if time.monotonic() > deadline:
                    log = self.log.read_text()
                    raise RuntimeError("redis-server did not start:\n" + log) from exc
                time.sleep(0.05)
        client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@contextmanager
def redis_server(log: Path, password: str | None = None) -> Iterator[RedisServer]:
    server = RedisServer(free_port(), log, password)
    server.start()
    try:
        yield server
    finally:
        server.stop()
