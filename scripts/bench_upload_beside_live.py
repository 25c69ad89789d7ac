"""A whole-file upload to /v1/audio/transcriptions beside a live /stream session: the live
session's final latency (its last METRICS event) alone and with the upload running.

    .venv/bin/python scripts/bench_upload_beside_live.py   (from the repository root)
"""

import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

sys.path.insert(0, ".")
from loquilex.audio import decode_file
from tests.server_harness import Received, Server, collect, pcm16, run_server, send_realtime

MEETING = Path("bench/audio/devset/meeting-turns.wav")
UPLOAD = Path("bench/audio/devset/lj-read.wav")
audio = pcm16(decode_file(MEETING))


def live(server: Server) -> dict[str, Any]:
    async def run() -> Received:
        got = Received()
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(
                json.dumps({"type": "START_SESSION", "config": {"metrics_interval_s": 5}})
            )
            reader = asyncio.create_task(collect(ws, got))
            await send_realtime(ws, audio)
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 60)
        return got

    got = asyncio.run(run())
    return got.of("METRICS")[-1]["payload"]


root = Path(tempfile.mkdtemp(prefix="lx-upload-bench-"))
with run_server(root / "data", root / "log") as server:
    quiet = live(server)
    done: dict[str, float] = {}

    def upload() -> None:
        t = time.monotonic()
        with UPLOAD.open("rb") as fh:
            r = httpx.post(
                server.url + "/v1/audio/transcriptions", files={"file": ("lj.wav", fh)}, timeout=600
            )
        done["s"] = time.monotonic() - t
        done["status"] = r.status_code

    th = threading.Thread(target=upload)
    th.start()
    busy = live(server)
    th.join()
for name, m in (("alone", quiet), ("with upload", busy)):
    print(
        name,
        {
            k: m[k]
            for k in (
                "final_latency_p50_s",
                "final_latency_p95_s",
                "final_latency_max_s",
                "real_time_factor",
                "finals",
            )
        },
    )
print("upload of", UPLOAD.name, "took", round(done["s"], 1), "s, status", done["status"])
