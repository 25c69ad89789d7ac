"""`GET /metrics` and METRICS events against a real `loquilex serve`, a real WebSocket client
and the real model; `/metrics` is parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel

from loquilex.audio import decode_file
from loquilex.protocol import (
    Envelope,
    EventEmitter,
    EventType,
    FinalizedPayload,
    FinalSegment,
    PartialPayload,
    PartialSegment,
)
from loquilex.session._meter import SessionMeter
from loquilex.telemetry import Gauges, Telemetry
from tests.conftest import CliRunner, Speech
from tests.protocol_checks import check_stream
from tests.server_harness import Received, Server, collect, pcm16, run_server, send_realtime

TOKEN = "metrics-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: Server) -> Samples:
    with server.http() as http:
        reply = http.get("/metrics", headers=AUTH)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, speech: Speech) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("metrics")
    with run_server(
        root / "data", root / "server.log", speech.path.parent, LX_SERVER__AUTH_TOKEN=TOKEN
    ) as srv:
        yield srv


@pytest.mark.model
def test_metrics_match_what_the_client_received(server: Server, speech: Speech) -> None:
    audio = pcm16(decode_file(speech.path))
    with server.http() as http:
        assert http.get("/metrics").status_code == 401  # behind the token, like REST
    before = scrape(server)
    during: list[Samples] = []
    half = len(audio) // 4 * 2  # whole samples

    async def run() -> Received:
        got = Received()
        start = {"type": "START_SESSION", "config": {"metrics_interval_s": 2}}
        async with websockets.connect(server.ws + "/stream", additional_headers=AUTH) as ws:
            await ws.send(json.dumps(start))
            reader = asyncio.create_task(collect(ws, got))
            await ws.send("{not json")  # one private error, counted by its code
            seq = await send_realtime(ws, audio[:half])
            during.append(await asyncio.to_thread(scrape, server))
            await send_realtime(ws, audio[half:], start_seq=seq)
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 30)
        return got

    got = asyncio.run(run())
    check_stream(got.events)
    after = scrape(server)

    assert value(during[0], "loquilex_sessions_active", kind="streaming") == 1
    assert value(during[0], "loquilex_subscribers") >= 1
    assert value(during[0], "loquilex_websocket_connections") >= 1
    assert value(after, "loquilex_sessions_active", kind="streaming") == 0
    assert value(after, "loquilex_sessions_started_total", kind="streaming") == 1

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    received = Counter(e["type"] for e in got.events)
    assert received["PARTIAL"] > 0 and received["FINALIZED"] >= len(speech.clips), received
    for kind in ("PARTIAL", "FINALIZED", "METRICS", "SESSION_STARTED", "SESSION_ENDED"):
        dropped = grew("loquilex_events_dropped_total", type=kind)
        assert grew("loquilex_events_total", type=kind) == received[kind] + dropped, kind
    errors = Counter(e["payload"]["code"] for e in got.of("ERROR"))
    assert errors == {"INVALID_MESSAGE": 1}
    assert grew("loquilex_errors_total", code="INVALID_MESSAGE") == 1

    assert grew("loquilex_audio_seconds_total") == pytest.approx(len(audio) / 32000, abs=0.01)
    finals = received["FINALIZED"]
    assert grew("loquilex_final_latency_seconds_count") == finals
    assert 0 < grew("loquilex_final_latency_seconds_sum") < 10 * finals
    assert grew("loquilex_decode_seconds_count", kind="final") >= len(speech.clips)
    assert grew("loquilex_decode_seconds_count", kind="partial") > 0
    assert value(after, "process_resident_memory_bytes") > 100e6
    assert value(after, "process_cpu_seconds_total") > 0

    sid = got.of("SESSION_STARTED")[0]["payload"]["session_id"]
    with server.http() as http:
        budgets = http.get(f"/sessions/{sid}/metrics", headers=AUTH).json()["budgets"]
    assert budgets["finals"] == finals and budgets["window"] == finals

    # METRICS every 2 s: the session's own budgets, consistent with what came before it.
    metrics = got.of("METRICS")
    assert len(metrics) >= 4
    last = metrics[-1]["payload"]
    before_last = got.events[: got.events.index(metrics[-1])]
    assert last["finals"] == sum(1 for e in before_last if e["type"] == "FINALIZED")
    assert last["partials"] == sum(1 for e in before_last if e["type"] == "PARTIAL")
    assert 0 < last["final_latency_p50_s"] <= last["final_latency_p95_s"] < 10
    assert 0 < last["partial_interval_p50_s"] < 2
    assert 0 < last["real_time_factor"] < 1


@pytest.mark.model
def test_subprocess_sessions_count_their_audio(server: Server, speech: Speech) -> None:
    before = scrape(server)
    body = {"source": "file", "path": speech.path.name, "realtime": False, "mode": "subprocess"}
    with server.http() as http:
        created = http.post("/sessions", json=body, headers=AUTH)
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]

    async def watch() -> Received:
        got = Received()
        url = f"{server.ws}/ws/{sid}?last_event_id=0"
        async with websockets.connect(url, additional_headers=AUTH) as ws:
            await asyncio.wait_for(collect(ws, got), 120)
        return got

    got = asyncio.run(watch())
    after = scrape(server)
    assert not got.of("METRICS")  # the child reports them; this session did not ask
    seconds = len(decode_file(speech.path)) / 16000
    audio = value(after, "loquilex_audio_seconds_total") - value(
        before, "loquilex_audio_seconds_total"
    )
    assert audio == pytest.approx(seconds, abs=0.05)
    assert value(after, "loquilex_sessions_started_total", kind="subprocess") == 1
    finals = value(after, "loquilex_events_total", type="FINALIZED") - value(
        before, "loquilex_events_total", type="FINALIZED"
    )
    assert finals == len(got.of("FINALIZED"))


def test_session_meter_times_finals_from_the_arrival_of_their_audio() -> None:
    now = [100.0]
    telemetry = Telemetry()
    meter = SessionMeter(telemetry, clock=lambda: now[0])
    for _ in range(100):  # 2 s of audio, arriving in real time
        now[0] += 0.02
        meter.fed(0.02)
    # The final ends at 1.5 s of audio; that audio arrived at 101.5, it comes out at 102.3.
    now[0] = 102.3
    segment = FinalSegment(start=0.2, end=1.5, text="hello there", words=[])
    meter.observe(_envelope("FINALIZED", FinalizedPayload(segment=segment, eou_reason="silence")))
    for t in (102.4, 102.6, 102.8):
        now[0] = t
        partial = PartialSegment(
            start=1.8, end=2.0, text="a", stable_text="", unstable_text="a", words=[]
        )
        meter.observe(_envelope("PARTIAL", PartialPayload(segment=partial, confidence=0.9)))
    payload = meter.payload({"audio_s": 2.0, "decode_s": 0.5})
    assert payload.final_latency_p50_s == pytest.approx(0.8, abs=1e-6)
    assert payload.partial_interval_p50_s == pytest.approx(0.2)
    assert payload.real_time_factor == 0.25
    assert (payload.finals, payload.partials, payload.window) == (1, 3, 1)
    exposed = telemetry.exposition().decode()
    assert "loquilex_audio_seconds_total 2.0" in exposed
    assert "loquilex_final_latency_seconds_count 1.0" in exposed
    # A final past the audio heard has no honest latency: none is made up.
    late = FinalSegment(start=2.0, end=9.0, text="later", words=[])
    meter.observe(_envelope("FINALIZED", FinalizedPayload(segment=late, eou_reason="forced")))
    assert meter.payload({}).window == 1


def _envelope(kind: EventType, payload: BaseModel) -> Envelope:
    return EventEmitter().emit(kind, payload)


def test_every_series_is_documented() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "metrics.md").read_text()
    telemetry = Telemetry()
    telemetry.watch(lambda: Gauges())
    names = [family.name for family in telemetry.registry.collect()]
    assert "loquilex_sessions_active" in names and "process_resident_memory_bytes" in names
    for name in names:
        assert name.startswith("process_") or f"`{name}" in docs, name


@pytest.mark.model
def test_live_reports_metrics_events(cli: CliRunner, speech: Speech) -> None:
    proc = cli("live", "--input", str(speech.path), "--jsonl", "--metrics-interval", "0.5")
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    check_stream(events)
    metrics = [e for e in events if e["type"] == "METRICS"]
    assert len(metrics) >= 10  # 14 s at real time
    last = metrics[-1]["payload"]
    assert last["finals"] == sum(
        1 for e in events[: events.index(metrics[-1])] if e["type"] == "FINALIZED"
    )
    assert last["finals"] >= 3 and 0 < last["final_latency_p50_s"] < 5
    assert 0 < last["real_time_factor"] < 1
    refused = cli("live", "--input", str(speech.path), "--metrics-interval", "0.01")
    assert refused.returncode == 2 and "--metrics-interval" in refused.stderr
