"""Backpressure (SPEC §2.5): the Subscriber policy, then a stalled client on a real server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
import websockets

from loquilex.bench._served import free_port
from loquilex.config import load_settings
from loquilex.protocol import (
    Envelope,
    ErrorPayload,
    EventEmitter,
    FinalizedPayload,
    FinalSegment,
    PartialPayload,
    PartialSegment,
    StatusPayload,
)
from loquilex.server import create_app
from loquilex.server._runner import _listen
from loquilex.session import Subscriber
from tests.protocol_checks import check_stream
from tests.server_harness import Received, collect


def _partial(emitter: EventEmitter, seg: int, text: str) -> Envelope:
    segment = PartialSegment(
        start=seg, end=seg + 1, text=text, stable_text="", unstable_text=text, words=[]
    )
    return emitter.emit(
        "PARTIAL",
        PartialPayload(segment=segment, confidence=0.9),
        segment_id=f"seg-{seg}",
        ts_audio_start=seg,
        ts_audio_end=seg + 1,
    )


def _final(emitter: EventEmitter, seg: int, text: str) -> Envelope:
    segment = FinalSegment(start=seg, end=seg + 1, text=text, words=[])
    return emitter.emit(
        "FINALIZED",
        FinalizedPayload(segment=segment, eou_reason="silence"),
        segment_id=f"seg-{seg}",
        ts_audio_start=seg,
        ts_audio_end=seg + 1,
    )


def _notice_factory(emitter: EventEmitter) -> Any:
    def notice(count: int, types: dict[str, int], reuse: int | None) -> Envelope:
        payload = ErrorPayload.model_validate(
            {
                "code": "BUFFER_OVERFLOW",
                "message": "dropped",
                "recoverable": True,
                "details": {},
                "dropped_count": count,
                "dropped_types": types,
            }
        )
        if reuse is None:
            return emitter.emit("ERROR", payload)
        return Envelope.build(
            event_id=reuse, stream_id=emitter.stream_id, type="ERROR", payload=payload, ts_server=0
        )

    return notice


def test_subscriber_drops_oldest_partials_and_reports_one_notice() -> None:
    async def run() -> list[Envelope]:
        emitter = EventEmitter()
        sub = Subscriber(5, _notice_factory(emitter))
        for seg in range(4):
            for k in range(5):
                sub.offer(_partial(emitter, seg, f"p{k}"))
            sub.offer(_final(emitter, seg, f"final {seg}"))
        sub.offer(emitter.emit("STATUS", StatusPayload(stage="paused", message="")))
        sub.close()
        out = []
        while (env := await sub.get()) is not None:
            out.append(env)
        return out

    out = asyncio.run(run())
    types = [e.type for e in out]
    assert types.count("FINALIZED") == 4 and types.count("STATUS") == 1
    notices = [e for e in out if e.type == "ERROR"]
    assert len(notices) == 1
    assert notices[0].payload["dropped_types"] == {"PARTIAL": 20 - types.count("PARTIAL")}
    ids = [e.event_id for e in out]
    assert ids == sorted(ids)  # the notice sits where the first drop happened


def test_subscriber_never_drops_finals_but_has_a_hard_limit() -> None:
    emitter = EventEmitter()
    sub = Subscriber(3, _notice_factory(emitter), hard_limit=6)
    for seg in range(6):
        sub.offer(_final(emitter, seg, "x"))
    assert len(sub) == 6 and not sub.overflowed
    sub.offer(_final(emitter, 6, "x"))
    assert sub.overflowed and sub.closed  # disconnected, to resume from the replay log


@contextmanager
def inprocess_server(tmp_path: Path, **server: Any) -> Iterator[tuple[Any, int]]:
    """A real uvicorn on 127.0.0.1 in a thread, so the test can reach the session manager."""
    port = free_port()
    settings, _ = load_settings(
        overrides={"data_dir": str(tmp_path), "server": {"port": port, **server}}
    )
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None)
    srv = uvicorn.Server(config)
    sock = _listen("127.0.0.1", port, settings.server.socket_send_buffer)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.05)
    try:
        yield app, port
    finally:
        srv.should_exit = True
        thread.join(20)
        sock.close()


def test_stalled_client_loses_only_partials_and_holds_no_one_back(tmp_path: Path) -> None:
    with inprocess_server(tmp_path, subscriber_queue=20, socket_send_buffer=8192) as (app, port):
        loop: asyncio.AbstractEventLoop = app.state.loop
        manager = app.state.manager
        from loquilex.session import SessionConfig

        session = asyncio.run_coroutine_threadsafe(
            manager.create(SessionConfig(source="push")), loop
        ).result(30)

        async def publish_many() -> None:
            """100 segments: 19 partials (~1.3 KB each) and a final, as fast as possible."""
            filler = "word " * 250
            for seg in range(100):
                for k in range(19):
                    session.on_envelope(_partial(session.emitter, seg, f"{k} {filler}"))
                session.on_envelope(_final(session.emitter, seg, f"final {seg}"))
                await asyncio.sleep(0.002)
            await session.stop()

        async def clients() -> tuple[Received, Received, float]:
            normal, slow = Received(), Received()
            raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            raw.connect(("127.0.0.1", port))
            slow_ws = await websockets.connect(
                f"ws://127.0.0.1:{port}/ws/{session.id}", sock=raw, max_queue=1, compression=None
            )
            async with websockets.connect(
                f"ws://127.0.0.1:{port}/ws/{session.id}", max_size=None
            ) as good:
                reader = asyncio.create_task(collect(good, normal))
                await asyncio.sleep(0.5)
                started = time.monotonic()
                asyncio.run_coroutine_threadsafe(publish_many(), loop)
                await asyncio.wait_for(reader, 60)
                normal_done = time.monotonic() - started
            peak_queue = (
                max(len(s) for s in session.log.subscribers) if session.log.subscribers else 0
            )
            assert peak_queue <= 20 * 10
            try:
                await asyncio.wait_for(collect(slow_ws, slow), 60)
            finally:
                # The test's own socket: closed here, not left to the collector.
                await slow_ws.close()
                raw.close()
            return normal, slow, normal_done

        normal, slow, normal_done = asyncio.run(clients())

    check_stream(normal.events)
    check_stream(slow.events)
    assert len(normal.of("FINALIZED")) == 100 and len(normal.of("PARTIAL")) == 1900
    overflow = [e for e in slow.of("ERROR") if e["payload"]["code"] == "BUFFER_OVERFLOW"]
    assert len(overflow) == 1, "one BUFFER_OVERFLOW for the one overflow episode"
    assert overflow[0]["payload"]["dropped_types"] == {
        "PARTIAL": overflow[0]["payload"]["dropped_count"]
    }
    assert overflow[0]["payload"]["dropped_count"] == 1900 - len(slow.of("PARTIAL")) > 1000
    # It lost partials only: every final, in order, and the end of the session.
    assert [e["event_id"] for e in slow.of("FINALIZED")] == [
        e["event_id"] for e in normal.of("FINALIZED")
    ]
    assert slow.events[-1]["type"] == "SESSION_ENDED"
    # The reading client was not held back by the stalled one.
    delays = sorted(
        t - e["ts_server"] / 1000 for t, e in zip(normal.times, normal.events, strict=True)
    )
    assert delays[int(0.95 * (len(delays) - 1))] < 0.5
    assert normal_done < 20
    json.dumps(slow.events)
