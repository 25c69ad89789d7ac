"""WebSocket protocol against a real `loquilex serve`, a real client and the real model."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import websockets

from loquilex.audio import decode_file
from loquilex.bench import word_error_rate
from tests.conftest import STREAM_WER_BOUND, Speech, assert_sentences_finalized
from tests.protocol_checks import check_stream, final_text
from tests.server_harness import (
    Received,
    Server,
    chunk_msg,
    collect,
    pcm16,
    run_server,
    send_realtime,
    sender_url,
)

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("ws")
    with run_server(
        root / "data",
        root / "server.log",
        tmp_path_factory.getbasetemp(),
        LX_SERVER__REPLAY_EVENTS="30",
        LX_SERVER__MAX_SESSIONS="30",
        LX_SERVER__MAX_FRAME_BYTES="65536",
        LX_SERVER__RESUME_GRACE_S="2",
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def audio(speech: Speech) -> bytes:
    return pcm16(decode_file(speech.path))


def _broadcast(events: list[dict[str, object]]) -> list[dict[str, object]]:
    return [
        e
        for e in events
        if e["type"] in ("PARTIAL", "FINALIZED", "STATUS", "SESSION_STARTED", "SESSION_ENDED")
    ]


def test_stream_endpoint_end_to_end(server: Server, speech: Speech, audio: bytes) -> None:
    async def run() -> Received:
        got = Received()
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(json.dumps({"type": "START_SESSION", "config": {}}))
            reader = asyncio.create_task(collect(ws, got))
            # JSON base64 chunks, with every 4th chunk as a binary PCM16 frame.
            await send_realtime(ws, audio, binary_every=4)
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 30)
        return got

    got = asyncio.run(run())
    check_stream(got.events)
    types = [e["type"] for e in got.events]
    assert types[0] == "SESSION_STARTED" and types[-1] == "SESSION_ENDED"
    assert types.count("PARTIAL") >= len(speech.clips)
    assert word_error_rate(speech.text, final_text(got.events)) <= STREAM_WER_BOUND
    assert_sentences_finalized(got.events, speech.clips)
    assert len([f for f in got.of("FINALIZED") if f["payload"]["segment"]["text"]]) == len(
        speech.clips
    )


def test_push_over_ws_late_joiner_and_resume(server: Server, speech: Speech, audio: bytes) -> None:
    """Audio pushed on /ws/{id}; a viewer watches throughout; a second viewer drops out
    mid-utterance and resumes; a third joins late. Everyone sees the same finals, once."""
    with httpx.Client(base_url=server.url) as http:
        created = http.post("/sessions", json={"source": "push"}).json()
    sid, stream_id = created["session_id"], created["stream_id"]

    async def run() -> tuple[Received, Received, Received, Received]:
        full, first_half, resumed, late = Received(), Received(), Received(), Received()
        async with (
            websockets.connect(sender_url(server, created)) as sender,
            websockets.connect(f"{server.ws}/ws/{sid}") as watcher,
        ):
            watch = asyncio.create_task(collect(watcher, full))
            dropper = await websockets.connect(f"{server.ws}/ws/{sid}")
            drop_task = asyncio.create_task(collect(dropper, first_half, until=None))
            half = len(audio) // 2
            half -= half % 2
            seq = await send_realtime(sender, audio[:half])
            await dropper.close()  # mid-utterance
            await drop_task
            last_id = first_half.events[-1]["event_id"]
            seq = await send_realtime(sender, audio[half : half + 16000 * 2 * 2], start_seq=seq)
            async with websockets.connect(f"{server.ws}/ws/{sid}") as again:
                await again.send(
                    json.dumps(
                        {"type": "RESUME_SESSION", "stream_id": stream_id, "last_event_id": last_id}
                    )
                )
                back = asyncio.create_task(collect(again, resumed))
                async with websockets.connect(f"{server.ws}/ws/{sid}") as joiner:
                    join = asyncio.create_task(collect(joiner, late))
                    await send_realtime(sender, audio[half + 16000 * 2 * 2 :], start_seq=seq)
                    await sender.send(json.dumps({"type": "END_SESSION"}))
                    await asyncio.wait_for(asyncio.gather(back, join, watch), 30)
        return full, first_half, resumed, late

    full, first_half, resumed, late = asyncio.run(run())
    for got in (full, first_half, resumed, late):
        check_stream(got.events)
    assert full.events[0]["type"] == late.events[0]["type"] == "SNAPSHOT"
    assert late.events[0]["payload"]["recent_finals"], "late joiner's snapshot shows finals"
    # The resumed viewer got exactly the broadcast events it missed: nothing lost, no repeat.
    assert "SNAPSHOT" not in [e["type"] for e in resumed.events]
    seen = _broadcast(first_half.events) + _broadcast(resumed.events)
    assert [e["event_id"] for e in seen] == [e["event_id"] for e in _broadcast(full.events)]
    finals = [e["segment_id"] for e in seen if e["type"] == "FINALIZED"]
    assert len(finals) == len(set(finals))
    assert word_error_rate(speech.text, final_text(full.events)) <= STREAM_WER_BOUND
    assert_sentences_finalized(full.events, speech.clips)


def test_resume_beyond_the_replay_log_gets_gap_and_snapshot(
    server: Server, speech: Speech, tmp_path: Path
) -> None:
    from loquilex.bench._speech import write_wav

    wav = tmp_path / "three-times.wav"
    write_wav(wav, np.tile(decode_file(speech.path), 3))  # more events than the log keeps
    with httpx.Client(base_url=server.url) as http:
        created = http.post(
            "/sessions", json={"source": "file", "path": str(wav), "realtime": False}
        ).json()
        deadline = time.monotonic() + 60
        while http.get(f"/sessions/{created['session_id']}").json()["state"] != "ended":
            assert time.monotonic() < deadline
            time.sleep(0.2)

    async def run() -> Received:
        got = Received()
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(
                json.dumps(
                    {
                        "type": "RESUME_SESSION",
                        "stream_id": created["stream_id"],
                        "last_event_id": 1,
                    }
                )
            )
            await asyncio.wait_for(collect(ws, got, until="SNAPSHOT"), 10)
        return got

    got = asyncio.run(run())
    gap, snapshot = got.events[0], got.events[1]
    assert gap["type"] == "ERROR" and gap["payload"]["code"] == "RESUME_GAP"
    assert gap["payload"]["missing_from"] == 2 and gap["payload"]["missing_to"] >= 2
    assert snapshot["type"] == "SNAPSHOT"
    # Every final of the session, in order: each sentence at least once (a long sentence
    # may end a final at a comma and give two).
    finals = snapshot["payload"]["recent_finals"]
    assert len(finals) >= 3 * len(speech.clips)
    ids = [int(f["segment_id"].removeprefix("seg-")) for f in finals]
    assert ids == sorted(ids)
    said = " ".join(f["text"] for f in finals)
    assert word_error_rate(" ".join([speech.text] * 3), said) <= 0.3, said


def test_bad_input_keeps_the_session_and_loses_nothing(
    server: Server, speech: Speech, audio: bytes
) -> None:
    async def run() -> Received:
        got = Received()
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(json.dumps({"type": "START_SESSION", "config": {}}))
            reader = asyncio.create_task(collect(ws, got))
            half = (len(audio) // 2) - (len(audio) // 2) % 2
            seq = await send_realtime(ws, audio[:half], speed=2.0)
            await ws.send("{not json")
            await ws.send(json.dumps({"type": "DANCE"}))
            await ws.send(
                json.dumps({"type": "AUDIO_CHUNK", "data": "%%%not-base64", "sequence": seq})
            )
            await ws.send(b"\x01\x02\x03")  # odd byte count for PCM16
            await ws.send(chunk_msg(b"\x00\x00", 0))  # sequence going backwards
            await ws.send(
                json.dumps({"type": "AUDIO_CHUNK", "data": "A" * 100_000, "sequence": seq})
            )
            await ws.send(json.dumps({"type": "AUDIO_CHUNK", "data": 5, "sequence": seq}))
            await ws.send(json.dumps({"type": "PING", "timestamp": 123}))
            await send_realtime(ws, audio[half:], speed=2.0, start_seq=seq)
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 30)
        return got

    got = asyncio.run(run())
    check_stream(got.events)
    errors = [(e["payload"]["code"], e["payload"]["message"]) for e in got.of("ERROR")]
    codes = [c for c, _ in errors]
    assert codes == [
        "INVALID_MESSAGE",
        "INVALID_MESSAGE",
        "INVALID_MESSAGE",
        "INVALID_MESSAGE",
        "SEQUENCE_ERROR",
        "INVALID_MESSAGE",
        "INVALID_MESSAGE",
    ], errors
    assert "not valid JSON" in errors[0][1] and "unknown message type" in errors[1][1]
    assert "base64" in errors[2][1] and "whole number" in errors[3][1]
    assert "too large" in errors[5][1]
    assert all(e["payload"]["recoverable"] for e in got.of("ERROR"))
    assert got.of("PONG")[0]["payload"]["timestamp"] == 123
    assert got.events[-1]["type"] == "SESSION_ENDED"
    assert word_error_rate(speech.text, final_text(got.events)) <= STREAM_WER_BOUND
    assert_sentences_finalized(got.events, speech.clips)


def test_unsupported_sample_format_and_bad_start(server: Server) -> None:
    async def run() -> list[dict[str, object]]:
        got = Received()
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(json.dumps({"type": "AUDIO_CHUNK", "data": "", "sequence": 0}))
            await ws.send(
                json.dumps({"type": "START_SESSION", "config": {"audio_format": "mulaw"}})
            )
            await ws.send(
                json.dumps(
                    {
                        "type": "START_SESSION",
                        "config": {"sample_rate": 48000, "audio_format": "f32le"},
                    }
                )
            )
            await asyncio.wait_for(collect(ws, got, until="SESSION_STARTED"), 10)
        return got.events

    events = asyncio.run(run())
    assert events[0]["payload"]["code"] == "INVALID_MESSAGE"
    assert events[1]["payload"]["code"] == "INVALID_MESSAGE"
    assert "audio_format" in events[1]["payload"]["message"]
    assert events[2]["type"] == "SESSION_STARTED"
    assert events[2]["payload"]["config"]["sample_rate"] == 48000


def test_foreign_origin_websocket_is_refused(server: Server) -> None:
    async def run() -> None:
        async with websockets.connect(server.ws + "/stream", origin="https://evil.example"):  # type: ignore[arg-type]
            pass

    with pytest.raises(websockets.InvalidStatus) as info:
        asyncio.run(run())
    assert info.value.response.status_code == 403


def test_twenty_subscribers_get_every_final_in_order(server: Server, speech: Speech) -> None:
    with httpx.Client(base_url=server.url) as http:
        created = http.post("/sessions", json={"source": "push"}).json()
    sid = created["session_id"]
    audio = pcm16(decode_file(speech.path))

    async def run() -> list[Received]:
        received = [Received() for _ in range(20)]
        sockets = [await websockets.connect(f"{server.ws}/ws/{sid}") for _ in range(20)]
        tasks = [
            asyncio.create_task(collect(ws, got)) for ws, got in zip(sockets, received, strict=True)
        ]
        async with websockets.connect(sender_url(server, created)) as sender:
            await send_realtime(sender, audio, speed=2.0)
            await sender.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
        for ws in sockets:
            await ws.close()
        return received

    received = asyncio.run(run())
    finals = [
        [(f["event_id"], f["payload"]["segment"]["text"]) for f in r.of("FINALIZED")]
        for r in received
    ]
    assert finals[0] and all(f == finals[0] for f in finals)
    for r in received:
        check_stream(r.events)


def _extensions(url: str) -> str | None:
    """The extensions a WebSocket upgrade to ``url`` agreed on; the client (websockets'
    default, as browsers do) offers permessage-deflate. The first event must still arrive."""

    async def run() -> str | None:
        async with websockets.connect(url) as ws:
            await ws.send(json.dumps({"type": "START_SESSION", "config": {}}))
            first = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert first["type"] == "SESSION_STARTED"
            await ws.send(json.dumps({"type": "END_SESSION"}))
            assert ws.response is not None
            return ws.response.headers.get("Sec-WebSocket-Extensions")

    return asyncio.run(run())


def test_events_go_uncompressed_unless_compression_is_configured(
    server: Server, tmp_path: Path
) -> None:
    # Compressing every event once per viewer cost more than it saved (docs/scaling.md).
    assert _extensions(server.ws + "/stream") is None
    with run_server(
        tmp_path / "data", tmp_path / "server.log", LX_SERVER__WS_COMPRESSION="true"
    ) as compressing:
        agreed = _extensions(compressing.ws + "/stream")
    assert agreed is not None and "permessage-deflate" in agreed
