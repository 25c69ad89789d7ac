"""``loquilex bench server-soak``: the whole server over time. A real ``loquilex serve`` in a
child process; one long session through ``/stream`` (a recording in a loop), and beside it
a steady churn of short sessions: ``/stream`` clients that speak a few seconds and end,
clients that start and vanish, REST push sessions nobody feeds. The server's RSS is sampled
as it runs: does anything grow with the server's lifetime?"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import psutil
import websockets

from loquilex.audio import SAMPLE_RATE
from loquilex.bench._served import served
from loquilex.bench._soak import rss_summary

__all__ = ["run_server_soak"]

_CHUNK_S = 0.1
_START = json.dumps({"type": "START_SESSION", "config": {}})
_END = json.dumps({"type": "END_SESSION"})


def _ws(url: str) -> str:
    return "ws" + url.removeprefix("http")


def _pcm(audio: npt.NDArray[np.float32]) -> bytes:
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def _speak(url: str, pcm: bytes, speed: float, stop_at: float | None = None) -> int:
    """One /stream session: send ``pcm`` (looped until ``stop_at`` if given) at ``speed`` ×
    real time, end it, and count its finals."""
    finals = 0
    size = int(SAMPLE_RATE * 2 * _CHUNK_S)
    async with websockets.connect(_ws(url) + "/stream", max_size=None) as ws:
        await ws.send(_START)

        async def read() -> None:
            nonlocal finals
            async for raw in ws:
                event = json.loads(raw)
                finals += event["type"] == "FINALIZED"
                if event["type"] == "SESSION_ENDED":
                    return

        reader = asyncio.create_task(read())
        started, sent, seq = time.monotonic(), 0, 0
        while True:
            for offset in range(0, len(pcm), size):
                piece = base64.b64encode(pcm[offset : offset + size]).decode()
                await ws.send(json.dumps({"type": "AUDIO_CHUNK", "data": piece, "sequence": seq}))
                seq += 1
                sent += 1
                due = started + sent * _CHUNK_S / speed
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                if stop_at is not None and time.monotonic() >= stop_at:
                    break
            if stop_at is None or time.monotonic() >= stop_at:
                break
        await ws.send(_END)
        await asyncio.wait_for(reader, 120)
    return finals


async def _vanish(url: str) -> None:
    async with websockets.connect(_ws(url) + "/stream") as ws:
        await ws.send(_START)
        async for raw in ws:
            if json.loads(raw)["type"] == "SESSION_STARTED":
                return


async def _soak(
    url: str, pid: int, pcm: bytes, minutes: float, speed: float, every_s: float
) -> dict[str, Any]:
    process = psutil.Process(pid)
    deadline = time.monotonic() + minutes * 60 / speed
    long_task = asyncio.create_task(_speak(url, pcm, speed, stop_at=deadline))
    short = pcm[: SAMPLE_RATE * 2 * 4]
    churn = {"short_sessions": 0, "vanished": 0, "unfed_rest": 0, "refused": 0}
    samples: list[dict[str, float]] = []
    started = time.monotonic()
    next_sample = started
    async with httpx.AsyncClient(base_url=url) as http:
        while time.monotonic() < deadline:
            round_no = churn["short_sessions"] + churn["vanished"] + churn["unfed_rest"]
            try:
                if round_no % 3 == 0:
                    await _speak(url, short, speed)
                    churn["short_sessions"] += 1
                elif round_no % 3 == 1:
                    await _vanish(url)
                    churn["vanished"] += 1
                else:
                    answer = await http.post("/sessions", json={"source": "push"})
                    churn["unfed_rest"] += 1
                    churn["refused"] += answer.status_code == 429
            except (websockets.WebSocketException, OSError, TimeoutError):
                churn["refused"] += 1
            if time.monotonic() >= next_sample:
                health = (await http.get("/healthz")).json()
                listed = len((await http.get("/sessions")).json())
                samples.append(
                    {
                        "wall_min": round((time.monotonic() - started) / 60, 2),
                        "rss_mb": round(process.memory_info().rss / 2**20, 1),
                        "running": health["sessions"],
                        "in_memory": listed,
                    }
                )
                next_sample += 30
            await asyncio.sleep(every_s)
    long_finals = await long_task
    return {
        "long_session_audio_min": round(minutes, 1),
        "speed": speed,
        "long_session_finals": long_finals,
        **churn,
        **rss_summary([s["rss_mb"] for s in samples], "warmup"),
        "max_sessions_in_memory": max(s["in_memory"] for s in samples),
        "samples": samples,
    }


def run_server_soak(
    audio: npt.NDArray[np.float32],
    *,
    minutes: float,
    data_dir: Path,
    speed: float = 2.5,
    every_s: float = 2.0,
) -> dict[str, Any]:
    """Run the soak against a fresh ``loquilex serve``; ``minutes`` of audio go through the
    long session at ``speed`` × real time (the per-connection limit is 3 ×)."""
    env = {
        # Short enough that abandoned and ended sessions turn over within the run.
        "LX_SERVER__IDLE_TIMEOUT_S": "10",
        "LX_SERVER__RESUME_GRACE_S": "5",
        "LX_SERVER__ENDED_RETENTION_S": "30",
    }
    data_dir.mkdir(parents=True, exist_ok=True)
    with served(data_dir, data_dir / "server-soak.log", env, start_s=120) as (proc, port):
        url = f"http://127.0.0.1:{port}"
        return asyncio.run(_soak(url, proc.pid, _pcm(audio), minutes, speed, every_s))
