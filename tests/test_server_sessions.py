"""Session kinds and their controls on a real server: subprocess sessions, pause/resume/
finalize, the audio client's grace period, and shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import websockets

from loquilex.audio import decode_file
from loquilex.bench import word_error_rate
from tests.conftest import STREAM_WER_BOUND, Speech, assert_sentences_finalized
from tests.protocol_checks import check_stream, final_text
from tests.server_harness import (
    Received,
    Server,
    collect,
    controls,
    pcm16,
    run_server,
    send_realtime,
    sender_url,
)

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("sessions")
    with run_server(
        root / "data",
        root / "server.log",
        tmp_path_factory.getbasetemp(),
        LX_SERVER__RESUME_GRACE_S="1.5",
    ) as srv:
        yield srv


def _watch(server: Server, sid: str, until: str = "SESSION_ENDED", timeout: float = 60) -> Received:
    async def run() -> Received:
        got = Received()
        async with websockets.connect(f"{server.ws}/ws/{sid}") as ws:
            await asyncio.wait_for(collect(ws, got, until=until), timeout)
        return got

    return asyncio.run(run())


def _start_subprocess_session(http: httpx.Client, speech: Speech) -> tuple[str, dict[str, str]]:
    """The new session's id, and the header that controls it."""
    created = http.post(
        "/sessions", json={"source": "file", "path": str(speech.path), "mode": "subprocess"}
    )
    assert created.status_code == 201, created.text
    body = created.json()
    return str(body["session_id"]), controls(body)


async def _watch_until_speaking(
    ws: object, got: Received, http: httpx.Client, sid: str
) -> tuple[asyncio.Task[None], int]:
    """Start collecting; return once the child is mid-utterance, with the child's pid."""
    reader = asyncio.create_task(collect(ws, got))
    await got.wait_for("PARTIAL")
    pid = (await asyncio.to_thread(http.get, f"/sessions/{sid}/metrics")).json()["pid"]
    return reader, int(pid)


def test_subprocess_session_end_to_end(server: Server, speech: Speech) -> None:
    with server.http() as http:
        created = http.post(
            "/sessions", json={"source": "file", "path": str(speech.path), "mode": "subprocess"}
        )
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]
        got = _watch(server, sid)
        info = http.get(f"/sessions/{sid}").json()
    check_stream(got.events)
    assert info["kind"] == "subprocess" and info["state"] == "ended"
    assert all(e["stream_id"] == created.json()["stream_id"] for e in got.events)
    assert word_error_rate(speech.text, final_text(got.events)) <= STREAM_WER_BOUND
    assert_sentences_finalized(got.events, speech.clips)
    assert len(got.of("PARTIAL")) >= 1
    assert got.events[-1]["payload"]["stats"]["child"]["finals"] == len(speech.clips)


def test_subprocess_crash_is_an_error_event_and_server_lives(
    server: Server, speech: Speech
) -> None:
    with server.http() as http:
        sid, _ = _start_subprocess_session(http, speech)

        async def run() -> Received:
            got = Received()
            async with websockets.connect(f"{server.ws}/ws/{sid}") as ws:
                reader, pid = await _watch_until_speaking(ws, got, http, sid)
                os.kill(pid, signal.SIGKILL)
                await asyncio.wait_for(reader, 20)
            return got

        got = asyncio.run(run())
        assert http.get("/healthz").json()["status"] == "ok"
        assert http.get(f"/sessions/{sid}").json()["state"] == "error"
    check_stream(got.events)
    error = got.of("ERROR")[0]["payload"]
    assert error["code"] == "SESSION_ERROR" and error["details"]["returncode"] == -9
    assert [s["payload"]["stage"] for s in got.of("STATUS")][-1] == "error"
    # The segment the crash interrupted was still closed by exactly one FINALIZED.
    open_segments = {e["segment_id"] for e in got.of("PARTIAL")}
    assert open_segments <= {e["segment_id"] for e in got.of("FINALIZED")}


def test_subprocess_pause_resume_finalize(server: Server, speech: Speech) -> None:
    with server.http() as http:
        sid, key = _start_subprocess_session(http, speech)

        async def run() -> Received:
            got = Received()
            async with websockets.connect(f"{server.ws}/ws/{sid}") as ws:
                reader, pid = await _watch_until_speaking(ws, got, http, sid)
                paused = await asyncio.to_thread(http.post, f"/sessions/{sid}/pause", headers=key)
                assert paused.json()["state"] == "paused"
                await asyncio.sleep(0.3)
                assert psutil.Process(pid).status() == psutil.STATUS_STOPPED
                resumed = await asyncio.to_thread(http.post, f"/sessions/{sid}/resume", headers=key)
                assert resumed.json()["state"] == "running"
                assert psutil.Process(pid).status() != psutil.STATUS_STOPPED
                await asyncio.to_thread(http.post, f"/sessions/{sid}/finalize", headers=key)
                await asyncio.wait_for(reader, 30)
            return got

        got = asyncio.run(run())
        assert http.delete(f"/sessions/{sid}", headers=key).status_code == 200
    check_stream(got.events)
    reasons = [e["payload"]["eou_reason"] for e in got.of("FINALIZED")]
    assert reasons[0] == "forced"
    stages = [e["payload"]["stage"] for e in got.of("STATUS")]
    assert stages.index("paused") < stages.index("operational", stages.index("paused"))


def test_streaming_pause_resume_finalize(server: Server, speech: Speech) -> None:
    audio = pcm16(decode_file(speech.path))
    with server.http() as http:
        created = http.post("/sessions", json={"source": "push"}).json()
        sid = created["session_id"]

        async def run() -> Received:
            got = Received()
            async with websockets.connect(sender_url(server, created)) as ws:
                reader = asyncio.create_task(collect(ws, got))
                first = speech.clips[0]
                cut = int(first.end * 16000) * 2
                seq = await send_realtime(ws, audio[: int((first.start + 1.5) * 16000) * 2])
                await asyncio.to_thread(
                    http.post, f"/sessions/{sid}/finalize", headers=controls(created)
                )
                seq = await send_realtime(
                    ws, audio[int((first.start + 1.5) * 16000) * 2 : cut], start_seq=seq, speed=2
                )
                await asyncio.to_thread(
                    http.post, f"/sessions/{sid}/pause", headers=controls(created)
                )
                # The second sentence is spoken while paused: it must not be transcribed.
                second_end = int((speech.clips[1].end + 0.6) * 16000) * 2
                seq = await send_realtime(ws, audio[cut:second_end], start_seq=seq, speed=4)
                await asyncio.to_thread(
                    http.post, f"/sessions/{sid}/resume", headers=controls(created)
                )
                await send_realtime(ws, audio[second_end:], start_seq=seq, speed=2)
                await ws.send(json.dumps({"type": "END_SESSION"}))
                await asyncio.wait_for(reader, 30)
            return got

        got = asyncio.run(run())
    check_stream(got.events)
    finals = [e for e in got.of("FINALIZED") if e["payload"]["segment"]["text"]]
    assert finals[0]["payload"]["eou_reason"] == "forced"
    stages = [e["payload"]["stage"] for e in got.of("STATUS")]
    assert "paused" in stages and stages[stages.index("paused") + 1] == "operational"
    text = final_text(got.events).lower()
    assert "report" not in text and "friday" not in text  # spoken while paused
    assert "morning" in text and "bread" in text
    assert got.events[-1]["payload"]["stats"]["dropped_while_paused"] > 0


def test_audio_client_gone_ends_session_after_grace(server: Server, speech: Speech) -> None:
    audio = pcm16(decode_file(speech.path))
    with server.http() as http:
        created = http.post("/sessions", json={"source": "push"}).json()
        sid = created["session_id"]

        async def run() -> Received:
            got = Received()
            async with websockets.connect(f"{server.ws}/ws/{sid}") as viewer:
                reader = asyncio.create_task(collect(viewer, got))
                sender = await websockets.connect(sender_url(server, created))
                first = speech.clips[0]
                await send_realtime(sender, audio[: int((first.start + 2.0) * 16000) * 2])
                await sender.close()  # mid-utterance, and never comes back
                await asyncio.wait_for(reader, 20)
            return got

        started = time.monotonic()
        got = asyncio.run(run())
        waited = time.monotonic() - started
        transcript = http.get(f"/sessions/{sid}/transcript", params={"format": "txt"}).text
    check_stream(got.events)
    assert got.of("FINALIZED")[-1]["payload"]["eou_reason"] in ("end_of_stream", "silence")
    assert got.events[-1]["type"] == "SESSION_ENDED"
    assert waited >= 1.5
    assert "weather" in transcript.lower() or "today" in transcript.lower()


def test_sigterm_flushes_open_segments_and_exits(tmp_path: Path, speech: Speech) -> None:
    audio = pcm16(decode_file(speech.path))
    with run_server(tmp_path / "data", tmp_path / "log") as srv:

        async def run() -> tuple[Received, float]:
            got = Received()
            async with websockets.connect(srv.ws + "/stream") as ws:
                await ws.send(json.dumps({"type": "START_SESSION", "config": {}}))
                reader = asyncio.create_task(collect(ws, got))
                first = speech.clips[0]
                await send_realtime(ws, audio[: int((first.start + 2.0) * 16000) * 2])
                srv.proc.send_signal(signal.SIGTERM)  # mid-utterance
                stopped = time.monotonic()
                await asyncio.wait_for(reader, 15)
                code = await asyncio.to_thread(srv.proc.wait, 15)
                assert code == 0
            return got, time.monotonic() - stopped

        got, took = asyncio.run(run())
    check_stream(got.events)
    last_final = got.of("FINALIZED")[-1]
    assert last_final["payload"]["eou_reason"] == "end_of_stream"
    assert last_final["payload"]["segment"]["text"]
    assert got.events[-1]["type"] == "SESSION_ENDED"
    assert took < 10
