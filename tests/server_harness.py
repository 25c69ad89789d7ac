"""A real `loquilex serve` on 127.0.0.1 for tests, and small WebSocket client helpers."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import websockets

from loquilex.bench._served import Served, served


@dataclass
class Server(Served):
    data_dir: Path
    log: Path

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)


@contextmanager
def run_server(
    data_dir: Path, log: Path, media_dir: Path | None = None, **env: str
) -> Iterator[Server]:
    """Start the server; ``media_dir`` is where REST file sessions may read from."""
    media = {"LX_SERVER__MEDIA_DIR": str(media_dir)} if media_dir is not None else {}
    with served(data_dir, log, {**media, **env}) as (proc, port):
        yield Server(port=port, proc=proc, data_dir=data_dir, log=log)


def pcm16(audio: npt.NDArray[np.float32]) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


def upgrade_status(port: int, path: str, host: str, origin: str | None = None) -> int:
    """The status a raw WebSocket upgrade request gets, with exactly this Host (and Origin)
    header: client libraries rewrite or repeat Host, so this writes the request itself."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ]
    if origin is not None:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        status_line = sock.makefile("rb").readline().decode()
    return int(status_line.split()[1])


def sender_url(server: Server, created: dict[str, Any]) -> str:
    """The /ws URL from which a push session created over REST takes audio."""
    return f"{server.ws}/ws/{created['session_id']}?sender_key={created['sender_key']}"


def controls(created: dict[str, Any]) -> dict[str, str]:
    """The header that lets the creator pause, resume, finalize or delete a session."""
    return {"X-LoquiLex-Sender-Key": created["sender_key"]}


def chunk_msg(data: bytes, sequence: int) -> str:
    return json.dumps(
        {"type": "AUDIO_CHUNK", "data": base64.b64encode(data).decode(), "sequence": sequence}
    )


@dataclass
class Received:
    events: list[dict[str, Any]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == kind]

    async def wait_for(self, kind: str, within_s: float = 30) -> dict[str, Any]:
        """The first event of ``kind``, waiting for it to arrive if need be."""
        async with asyncio.timeout(within_s):
            while not self.of(kind):
                self.arrived.clear()
                await self.arrived.wait()
        return self.of(kind)[0]


async def collect(ws: Any, into: Received, until: str | None = "SESSION_ENDED") -> None:
    """Read events until ``until`` arrives or the socket closes."""
    try:
        async for raw in ws:
            event = json.loads(raw)
            into.events.append(event)
            into.times.append(time.time())
            into.arrived.set()
            if until is not None and event["type"] == until:
                return
    except websockets.ConnectionClosed:
        return


async def send_realtime(
    ws: Any,
    audio: bytes,
    *,
    chunk_s: float = 0.1,
    speed: float = 1.0,
    start_seq: int = 0,
    binary_every: int = 0,
) -> int:
    """Send PCM16 at (a multiple of) real time; every ``binary_every``-th chunk as a binary
    frame. Returns the next sequence number."""
    size = int(16000 * 2 * chunk_s)
    started = time.monotonic()
    seq = start_seq
    for index, offset in enumerate(range(0, len(audio), size)):
        piece = audio[offset : offset + size]
        if binary_every and index % binary_every == binary_every - 1:
            await ws.send(piece)
        else:
            await ws.send(chunk_msg(piece, seq))
            seq += 1
        due = started + (index + 1) * chunk_s / speed
        await asyncio.sleep(max(due - time.monotonic(), 0))
    return seq


def watch_session(server: Server, session_id: str, within_s: float = 120) -> Received:
    """Every event of a session from its first (a viewer replaying from id 0) to its end."""

    async def watch() -> Received:
        got = Received()
        url = f"{server.ws}/ws/{session_id}?last_event_id=0"
        async with websockets.connect(url) as ws:
            await asyncio.wait_for(collect(ws, got), within_s)
        return got

    return asyncio.run(watch())
