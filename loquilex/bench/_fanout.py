"""``loquilex bench fanout``: how fast one session's events reach many WebSocket clients.

A real uvicorn on 127.0.0.1 runs in a thread of this process; N real WebSocket clients
subscribe to one session; events are published into the session as fast as the server
takes them. Reported: deliveries per second (events × subscribers) and the time from
publishing an event to a client receiving it. Clients and server share this process (and
its GIL), so the numbers are a lower bound on what a separate client machine would see.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from typing import Any

import uvicorn
import websockets

from loquilex._stats import percentile
from loquilex.config import load_settings
from loquilex.protocol import PartialPayload, PartialSegment

__all__ = ["run_fanout_bench"]


def run_fanout_bench(
    subscribers: int = 100, events: int = 500, rate: float = 200.0
) -> dict[str, Any]:
    from loquilex.server import create_app
    from loquilex.server._runner import _listen
    from loquilex.session import SessionConfig

    with tempfile.TemporaryDirectory() as tmp:
        settings, _ = load_settings(
            overrides={
                "data_dir": tmp,
                "log_level": "WARNING",
                "server": {"port": 0, "subscriber_queue": max(100, events), "max_sessions": 2},
            }
        )
        app = create_app(settings)
        sock = _listen("127.0.0.1", 0, settings.server.socket_send_buffer)
        port = sock.getsockname()[1]
        server = uvicorn.Server(
            uvicorn.Config(
                app, log_config=None, ws_per_message_deflate=settings.server.ws_compression
            )
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            loop: asyncio.AbstractEventLoop = app.state.loop
            session = asyncio.run_coroutine_threadsafe(
                app.state.manager.create(SessionConfig(source="push")), loop
            ).result(60)
            sent: dict[int, float] = {}
            text = "this is a typical live caption line of about this length"

            async def publish() -> None:
                interval = 1.0 / rate
                start = time.perf_counter()
                for i in range(events):
                    segment = PartialSegment(
                        start=i, end=i + 1, text=text, stable_text="", unstable_text=text, words=[]
                    )
                    env = session.emitter.emit(
                        "PARTIAL",
                        PartialPayload(segment=segment, confidence=0.9),
                        segment_id=f"seg-{i}",
                    )
                    sent[env.event_id] = time.perf_counter()
                    session.on_envelope(env)
                    delay = start + (i + 1) * interval - time.perf_counter()
                    await asyncio.sleep(max(delay, 0))

            async def clients() -> tuple[list[float], float, int]:
                latencies: list[float] = []
                received = 0
                conns = [
                    await websockets.connect(f"ws://127.0.0.1:{port}/ws/{session.id}")
                    for _ in range(subscribers)
                ]
                remaining = [events] * subscribers

                async def read(index: int, ws: Any) -> None:
                    nonlocal received
                    async for raw in ws:
                        now = time.perf_counter()
                        head = raw[: raw.index(",")]  # '{"event_id":N'
                        event_id = int(head.split(":")[1])
                        if event_id in sent:
                            latencies.append(now - sent[event_id])
                            received += 1
                            remaining[index] -= 1
                            if remaining[index] == 0:
                                return

                await asyncio.sleep(0.5)  # every client has its snapshot
                started = time.perf_counter()
                asyncio.run_coroutine_threadsafe(publish(), loop)
                await asyncio.wait_for(
                    asyncio.gather(*(read(i, c) for i, c in enumerate(conns))), 120
                )
                elapsed = time.perf_counter() - started
                for conn in conns:
                    await conn.close()
                return latencies, elapsed, received

            latencies, elapsed, received = asyncio.run(clients())
        finally:
            server.should_exit = True
            thread.join(20)
            sock.close()
    return {
        "subscribers": subscribers,
        "events": events,
        "publish_rate_per_s": rate,
        "deliveries": received,
        "deliveries_per_s": round(received / elapsed),
        "emit_to_receive_p50_ms": round((percentile(latencies, 0.5) or 0.0) * 1000, 2),
        "emit_to_receive_p99_ms": round((percentile(latencies, 0.99) or 0.0) * 1000, 2),
        "emit_to_receive_max_ms": round(max(latencies) * 1000, 2),
        "mean_ms": round(statistics.mean(latencies) * 1000, 2),
    }
