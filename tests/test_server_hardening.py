"""Issue 9's defects, each against a real `loquilex serve` on 127.0.0.1 with short limits:
abandoned sessions, a stale sender, long replays, viewers that try to send, floods, path
traversal, hostile frames, and a viewer of an ended session."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client as httpclient
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import websockets

from loquilex.audio import decode_file
from tests.conftest import Speech
from tests.protocol_checks import check_stream
from tests.server_harness import (
    Received,
    Server,
    chunk_msg,
    collect,
    controls,
    pcm16,
    run_server,
    send_realtime,
    sender_url,
    upgrade_status,
)

pytestmark = pytest.mark.model

START = json.dumps({"type": "START_SESSION", "config": {}})


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("hardening")
    with run_server(
        root / "data",
        root / "server.log",
        tmp_path_factory.getbasetemp(),
        LX_SERVER__MAX_SESSIONS="3",
        LX_SERVER__RESUME_GRACE_S="1",
        LX_SERVER__IDLE_TIMEOUT_S="2",
        LX_SERVER__ENDED_RETENTION_S="4",
        LX_SERVER__SUBSCRIBER_QUEUE="10",
        LX_SERVER__MAX_BACKLOG_S="8",
        LX_SERVER__AUDIO_BURST_S="10",
        LX_SERVER__MAX_STREAMS_PER_CLIENT="3",
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def audio(speech: Speech) -> bytes:
    return pcm16(decode_file(speech.path))


def _active(server: Server) -> int:
    return int(httpx.get(server.url + "/healthz").json()["sessions"])


def _wait(predicate: Any, within_s: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < within_s, what
        time.sleep(0.1)
    return time.monotonic() - started


def _codes(events: list[dict[str, Any]]) -> list[str]:
    return [e["payload"]["code"] for e in events if e["type"] == "ERROR"]


async def _until(got: Received, predicate: Any, within_s: float = 10) -> None:
    async with asyncio.timeout(within_s):
        while not predicate():
            got.arrived.clear()
            await got.arrived.wait()


# -- 1. abandoned sessions --------------------------------------------------------------------
def test_abandoned_sessions_end_and_leave_memory(server: Server) -> None:
    """/stream clients that start and vanish before any audio, and a REST push session that
    nobody ever feeds, end on their own; the cap frees up; ended sessions leave memory but
    their transcripts stay."""
    _wait(lambda: _active(server) == 0, 15, "earlier sessions did not end")

    async def start_and_vanish() -> None:
        sockets = [await websockets.connect(server.ws + "/stream") for _ in range(3)]
        for ws in sockets:
            await ws.send(START)
            await collect(ws, Received(), until="SESSION_STARTED")
        assert _active(server) == 3
        full = await asyncio.to_thread(httpx.post, server.url + "/sessions", json={})
        assert full.status_code == 429
        for ws in sockets:
            await ws.close()

    asyncio.run(start_and_vanish())
    with server.http() as http:
        took = _wait(lambda: _active(server) == 0, 10, "abandoned /stream sessions still run")
        assert took <= 1 + 1.5  # the 1 s grace, and the reaper's tick
        created = http.post("/sessions", json={"source": "push"}).json()
        sid = created["session_id"]
        took = _wait(lambda: _active(server) == 0, 10, "unfed REST push session still runs")
        assert took <= 2 + 1.5  # idle_timeout_s
        assert http.get(f"/sessions/{sid}").json()["state"] == "ended"
        _wait(lambda: http.get(f"/sessions/{sid}").status_code == 404, 10, "ended stays")
        assert http.get(f"/sessions/{sid}/transcript").status_code == 200
        assert all(s["state"] != "ended" for s in http.get("/sessions").json())


# -- 2. a stale connection cannot end its successor's session -------------------------------
def test_stale_sender_leaving_does_not_end_the_session(server: Server, audio: bytes) -> None:
    async def run() -> tuple[Received, Received]:
        first, second = Received(), Received()
        old = await websockets.connect(server.ws + "/stream")
        await old.send(START)
        reader = asyncio.create_task(collect(old, first, until=None))
        await _until(first, lambda: any("sender_key" in e["payload"] for e in first.of("STATUS")))
        key = next(
            s["payload"]["sender_key"] for s in first.of("STATUS") if "sender_key" in s["payload"]
        )
        stream_id = first.of("SESSION_STARTED")[0]["stream_id"]
        seq = await send_realtime(old, audio[: 16000 * 2 * 2], speed=2)
        async with websockets.connect(server.ws + "/stream") as new:
            last = first.events[-1]["event_id"]
            await new.send(
                json.dumps(
                    {
                        "type": "RESUME_SESSION",
                        "stream_id": stream_id,
                        "last_event_id": last,
                        "sender_key": key,
                    }
                )
            )
            task = asyncio.create_task(collect(new, second))
            seq = await send_realtime(new, audio[16000 * 2 * 2 : 16000 * 2 * 4], start_seq=seq)
            # The old socket is only now reaped; its sender is long replaced.
            await old.close()
            await reader
            seq = await send_realtime(new, audio[16000 * 2 * 4 :], start_seq=seq, speed=2)
            await new.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(task, 30)
        return first, second

    _, second = asyncio.run(run())
    check_stream(second.events)
    assert _codes(second.events) == []  # no SESSION_ERROR, no SEQUENCE_ERROR
    ended = second.of("SESSION_ENDED")
    assert ended and ended[0]["payload"]["stats"]["audio_s"] > 12  # the whole recording


# -- 3. a long replay never goes backwards and loses no final ----------------------------------
def test_replay_longer_than_the_queue_keeps_ids_increasing(server: Server, audio: bytes) -> None:
    """A viewer resumes from the very start of a live session whose log holds far more
    than its 10-event queue, reads slowly, and pings during the replay."""
    with server.http() as http:
        created = http.post("/sessions", json={"source": "push"}).json()

    async def run() -> tuple[Received, Received, int]:
        spoken, replayed = Received(), Received()
        async with websockets.connect(sender_url(server, created)) as sender:
            speaking = asyncio.create_task(collect(sender, spoken))
            feeding = asyncio.create_task(send_realtime(sender, audio, speed=2))
            await asyncio.sleep(6)
            logged = spoken.events[-1]["event_id"]
            async with websockets.connect(
                f"{server.ws}/ws/{created['session_id']}", max_queue=1
            ) as viewer:
                resume = {"type": "RESUME_SESSION", "stream_id": created["stream_id"]}
                await viewer.send(json.dumps({**resume, "last_event_id": 0}))
                await viewer.send(json.dumps({"type": "PING", "timestamp": 1}))
                await asyncio.sleep(1.0)  # a slow reader: the replay waits for it
                reading = asyncio.create_task(collect(viewer, replayed))
                await feeding
                await sender.send(json.dumps({"type": "END_SESSION"}))
                await asyncio.wait_for(asyncio.gather(speaking, reading), 30)
        return spoken, replayed, logged

    spoken, replayed, logged = asyncio.run(run())
    check_stream(replayed.events)
    assert replayed.events[0]["type"] == "SESSION_STARTED"
    assert replayed.events[-1]["type"] == "SESSION_ENDED"
    assert logged > 15  # the replay alone is longer than the 10-event queue
    assert "BUFFER_OVERFLOW" not in _codes(replayed.events)
    assert replayed.of("PONG"), "a message sent during the replay is answered in order"
    finals = [e["event_id"] for e in spoken.of("FINALIZED")]
    assert finals and finals == [e["event_id"] for e in replayed.of("FINALIZED")]


# -- 4. viewers are read-only; sequence numbers are integers ---------------------------------
def test_viewers_cannot_send_or_end_and_sequences_are_strict(server: Server, audio: bytes) -> None:
    with server.http() as http:
        created = http.post("/sessions", json={"source": "push"}).json()
    sid = created["session_id"]

    async def run() -> tuple[Received, Received]:
        viewed, sent = Received(), Received()
        async with (
            websockets.connect(f"{server.ws}/ws/{sid}") as viewer,
            websockets.connect(sender_url(server, created)) as sender,
        ):
            watch = asyncio.create_task(collect(viewer, viewed))
            speak = asyncio.create_task(collect(sender, sent))
            await viewer.send(chunk_msg(b"\x00\x00" * 160, 2**62))
            await viewer.send(b"\x00\x00" * 160)
            await viewer.send(json.dumps({"type": "END_SESSION"}))
            wrong = f"{server.ws}/ws/{sid}?sender_key=not-the-key"
            async with websockets.connect(wrong) as guesser:
                guessed = Received()
                guess = asyncio.create_task(collect(guesser, guessed, until=None))
                await _until(guessed, lambda: guessed.of("ERROR"))
                guess.cancel()
            data = base64.b64encode(b"\x00\x00" * 160).decode()
            for bad in (1.0, "2", True, -1, 2**64):
                await sender.send(
                    json.dumps({"type": "AUDIO_CHUNK", "data": data, "sequence": bad})
                )
            await send_realtime(sender, audio, speed=2)
            await sender.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(asyncio.gather(watch, speak), 30)
        return viewed, sent

    viewed, sent = asyncio.run(run())
    assert _codes(viewed.events) == ["UNAUTHORIZED"] * 3
    assert _codes(sent.events) == ["INVALID_MESSAGE"] * 5  # none a SEQUENCE_ERROR
    assert sent.events[-1]["type"] == "SESSION_ENDED"
    assert sent.events[-1]["payload"]["stats"]["audio_s"] > 12
    with server.http() as http:
        # Controlling it over REST takes the key too.
        assert http.post(f"/sessions/{sid}/finalize").status_code == 403
        assert http.delete(f"/sessions/{sid}", headers=controls(created)).status_code == 200


# -- 5. floods are refused, memory stays bounded, a real-time client does not notice -----------
def test_audio_floods_are_rate_limited_and_memory_stays_bounded(
    server: Server, audio: bytes
) -> None:
    server_rss = psutil.Process(server.proc.pid)
    before = server_rss.memory_info().rss

    async def flood(as_binary: bool) -> Received:
        got = Received()
        async with websockets.connect(server.ws + "/stream", max_size=None) as ws:
            await ws.send(START)
            reader = asyncio.create_task(collect(ws, got))
            second = 16000 * 2
            for index in range(300):  # 300 s of audio, as fast as the socket goes
                piece = audio[(index % 10) * second : (index % 10 + 1) * second]
                await ws.send(piece if as_binary else chunk_msg(piece, index))
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 60)
        return got

    binary = asyncio.run(flood(True))
    chunks = asyncio.run(flood(False))
    grown_mb = (server_rss.memory_info().rss - before) / 1e6
    for got in (binary, chunks):
        limited = [e for e in got.of("ERROR") if e["payload"]["code"] == "RATE_LIMITED"]
        assert len(limited) >= 250, len(limited)
        assert got.events[-1]["type"] == "SESSION_ENDED"
        # Burst (10 s) plus backlog: far less than the 300 s that was sent.
        assert got.events[-1]["payload"]["stats"]["audio_s"] < 40
    # A gross-leak guard only: RSS moves by tens of MB with the allocator under concurrent decodes.
    assert grown_mb < 150, grown_mb


# -- 6. path traversal and over-long names -----------------------------------------------------
def test_no_path_traversal_and_long_names_are_clean_errors(server: Server) -> None:
    (server.data_dir / "sessions").mkdir(parents=True, exist_ok=True)
    (server.data_dir / "transcript.jsonl").write_text('{"secret": "data dir"}\n')
    (server.data_dir / "sessions" / "transcript.jsonl").write_text('{"secret": "sessions"}\n')
    for raw in ("%2e%2e", "..", ".%2e", "%2E%2E", ".", "%2e", "a" * 300):
        conn = httpclient.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", f"/sessions/{raw}/transcript?format=txt")
        response = conn.getresponse()
        body = response.read().decode()
        conn.close()
        assert response.status in (404, 422), (raw, response.status)
        assert "secret" not in body, raw
    with server.http() as http:
        long_model = http.post("/sessions", json={"model": "m" * 300})
        assert long_model.status_code == 422
        long_path = http.post("/sessions", json={"source": "file", "path": "p" * 5000})
        assert long_path.status_code == 422
        # Names no file system takes: each is a 422 that says what was wrong, never a 500.
        # (Lone surrogates are written as JSON escapes, as a hostile client would send them.)
        for body, says in (
            ('{"model": "a\\u0000b"}', "unknown model"),
            ('{"source": "file", "path": "a\\u0000"}', "no audio file"),
            ('{"source": "file", "path": "' + "p" * 300 + '"}', "no audio file"),
            ('{"model": "\\ud800"}', "valid string"),
            ('{"source": "file", "path": "\\udcff"}', "valid string"),
            ('{"\\ud800": 1}', "valid string"),
        ):
            refused = http.post(
                "/sessions", content=body, headers={"Content-Type": "application/json"}
            )
            assert refused.status_code == 422 and says in refused.text, (body, refused.text)

    async def start_with_long_model() -> Received:
        got = Received()
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(json.dumps({"type": "START_SESSION", "config": {"model": "m" * 300}}))
            await ws.send(json.dumps({"type": "PING", "timestamp": 7}))
            await collect(ws, got, until="ERROR")
        return got

    got = asyncio.run(start_with_long_model())
    assert _codes(got.events) == ["INVALID_MESSAGE"]
    assert "Traceback" not in server.log.read_text()


# -- 7 and 8. hostile frames get INVALID_MESSAGE; no tracebacks; close codes -----------------
def test_hostile_frames_are_answered_and_the_log_stays_clean(server: Server) -> None:
    async def run() -> tuple[Received, int | None, float]:
        got = Received()
        async with websockets.connect(server.ws + "/stream", max_size=None) as ws:
            await ws.send(START)
            reader = asyncio.create_task(collect(ws, got, until=None))
            await got.wait_for("SESSION_STARTED")
            await ws.send('{"type":"PING","timestamp":' + "[" * 100_000 + "]" * 100_000 + "}")
            await ws.send(json.dumps({"type": "PING", "timestamp": 9}))
            await ws.send("x" * (2 << 20))  # over the app's 1 MiB, under the transport's limit
            await ws.send(json.dumps({"type": "PING", "timestamp": 10}))
            await _until(got, lambda: len(got.of("PONG")) == 2)
            sent = time.monotonic()
            # Over the transport's limit. The server closes as soon as it reads the frame's
            # header, so the close may reach us while the frame is still going out.
            with contextlib.suppress(websockets.ConnectionClosedError):
                await ws.send(b"\x00" * (20 << 20))
            await reader
            took = time.monotonic() - sent
            code = ws.close_code
        return got, code, took

    got, code, took = asyncio.run(run())
    assert _codes(got.events) == ["INVALID_MESSAGE", "INVALID_MESSAGE"]
    assert "nested too deeply" in got.of("ERROR")[0]["payload"]["message"]
    assert "too large" in got.of("ERROR")[1]["payload"]["message"]
    assert code == 1009 and took < 1.0
    assert "Traceback" not in server.log.read_text()


# -- 9. a viewer of an ended session is told so and closed normally -----------------------------
def test_viewer_of_an_ended_session_gets_session_ended(server: Server, speech: Speech) -> None:
    with server.http() as http:
        created = http.post(
            "/sessions", json={"source": "file", "path": str(speech.path), "realtime": False}
        ).json()
        sid = created["session_id"]
        _wait(lambda: http.get(f"/sessions/{sid}").json()["state"] == "ended", 60, "not ended")

    async def run() -> tuple[Received, int | None]:
        got = Received()
        async with websockets.connect(f"{server.ws}/ws/{sid}") as ws:
            await asyncio.wait_for(collect(ws, got, until=None), 5)
            return got, ws.close_code

    got, code = asyncio.run(run())
    assert [e["type"] for e in got.events] == ["SNAPSHOT", "SESSION_ENDED"]
    assert got.events[0]["payload"]["recent_finals"]
    assert code == 1000


# -- 11. Host headers are parsed strictly ----------------------------------------------------
def test_odd_host_headers_are_refused(server: Server) -> None:
    assert upgrade_status(server.port, "/stream", f"localhost:{server.port}") == 101
    for host in (f"localhost:{server.port}@evil.example", "localhost evil", "localhost:99999"):
        # 400 where the HTTP parser already refuses the header, 403 where we do.
        assert upgrade_status(server.port, "/stream", host) in (400, 403), host
        rest = httpx.get(server.url + "/sessions", headers={"Host": host})
        assert rest.status_code in (400, 403), host
    assert upgrade_status(server.port, "/stream", f"localhost:{server.port}@evil.example") == 403


# -- 12. the API loads only installed models and reads only the media directory ---------------
def test_api_models_and_files_are_confined(server: Server, tmp_path: Path) -> None:
    with server.http() as http:
        answers = [
            http.post("/sessions", json={"model": path}) for path in ("/etc", "/no/such/dir")
        ]
        assert {a.status_code for a in answers} == {422}
        details = [a.json()["detail"].split("'")[::2] for a in answers]
        assert details[0] == details[1]  # the same words: existence is not revealed
        outside = http.post("/sessions", json={"source": "file", "path": "/etc/hostname"})
        assert outside.status_code == 422 and "media directory" in outside.json()["detail"]
        escape = http.post("/sessions", json={"source": "file", "path": "../../../etc/hostname"})
        assert escape.status_code == 422
