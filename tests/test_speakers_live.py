"""Who said what, with the real parts: a two-voice espeak-ng meeting through the real
tiny.en model and the real voice encoder, in the pipeline, over a real server's /stream,
and in the `live` and `transcribe` terminals."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import websockets

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import DecodeScheduler, StreamingASR, WhisperEngine
from loquilex.audio import FileSource, decode_file
from loquilex.bench import SpeechClip
from loquilex.bench._speakers import score_speakers
from loquilex.config import ConversationConfig, StreamConfig
from loquilex.conversation import build_enricher
from loquilex.models import ModelStore, load_whisper
from loquilex.protocol import Envelope, EventEmitter
from loquilex.session import CaptionPipeline
from tests.conftest import CliRunner, Speech
from tests.protocol_checks import check_stream
from tests.server_harness import (
    Received,
    Server,
    collect,
    pcm16,
    run_server,
    send_realtime,
    watch_session,
)

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> object:
    store = ModelStore(tmp_path_factory.mktemp("data"))
    return load_whisper(store.resolve("tiny.en"), "cpu", "int8", 1)


def _as_dicts(events: list[Envelope]) -> list[dict[str, object]]:
    return [json.loads(e.to_json()) for e in events]


def _check_turns(events: list[dict], clips: list[SpeechClip]) -> None:
    finals = [e for e in events if e["type"] == "FINALIZED" and e["payload"]["segment"]["text"]]
    assert finals and all(f["payload"]["segment"]["speaker_id"] for f in finals)
    score = score_speakers(
        [Envelope.model_validate(e) for e in events if e["type"] == "FINALIZED"], clips
    )
    assert score.found_speakers == 2, score
    assert score.accuracy >= 0.9, score
    assert score.changes_found >= 2, score
    turns = [e for e in events if e["type"] == "SPEAKER_TURN"]
    assert 3 <= len(turns) <= 6
    speakers = [t["payload"]["turn"]["speaker_id"] for t in turns]
    assert speakers[0] == "spk-0" and "spk-1" in speakers
    assert all(a != b for a, b in itertools.pairwise(speakers))
    # Each turn's SEMANTIC_UPDATE follows it at once.
    for turn in turns:
        index = events.index(turn)
        follower = events[index + 1]
        assert follower["type"] == "SEMANTIC_UPDATE"
        assert follower["payload"]["turn_id"] == turn["payload"]["turn"]["id"]


def _check_partial_speakers(events: list[dict]) -> None:
    """A PARTIAL carries its sentence's tentative speaker once one is known, and the
    FINALIZED of its segment mostly agrees."""
    finals = [e for e in events if e["type"] == "FINALIZED" and e["payload"]["segment"]["text"]]
    final_speaker = {f["segment_id"]: f["payload"]["segment"]["speaker_id"] for f in finals}
    partials = [e for e in events if e["type"] == "PARTIAL"]
    # Before the first final nobody is known yet.
    first = finals[0]["segment_id"]
    assert all(
        p["payload"]["segment"]["speaker_id"] is None for p in partials if p["segment_id"] == first
    )
    tentative = {
        p["segment_id"]: p["payload"]["segment"]["speaker_id"]
        for p in partials
        if p["payload"]["segment"]["speaker_id"]
    }
    assert len(tentative) >= len(finals) // 2, (len(tentative), len(finals))
    agreed = [seg for seg, spk in tentative.items() if final_speaker.get(seg) == spk]
    assert len(agreed) >= 0.8 * len(tentative), (tentative, final_speaker)
    # Once a segment has a tentative speaker it keeps it.
    for seg, spk in tentative.items():
        named = [
            p["payload"]["segment"]["speaker_id"]
            for p in partials
            if p["segment_id"] == seg and p["payload"]["segment"]["speaker_id"]
        ]
        assert set(named) == {spk}


def test_the_pipeline_attributes_every_final_and_closes_turns(
    two_voices: Speech, model: object
) -> None:
    path, clips = two_voices.path, two_voices.clips
    events: list[Envelope] = []

    async def run() -> CaptionPipeline:
        emitter = EventEmitter()
        scheduler = DecodeScheduler(workers=1)
        enricher = build_enricher(emitter, ConversationConfig(), diarize=True, prosody=True)
        assert enricher is not None
        pipeline = CaptionPipeline(
            FileSource(path, realtime=False),
            StreamingASR(WhisperEngine(model, "en"), StreamConfig()),
            scheduler,
            PartialFinalAggregator(emitter),
            events.append,
            enricher=enricher,
        )
        try:
            await pipeline.run()
        finally:
            scheduler.close()
        return pipeline

    pipeline = asyncio.run(run())
    dicts = _as_dicts(events)
    check_stream(dicts)
    _check_turns(dicts, clips)
    _check_partial_speakers(dicts)
    finals = [e for e in dicts if e["type"] == "FINALIZED" and e["payload"]["segment"]["text"]]
    for final in finals:
        state = final["payload"]["segment"]["audio_state"]
        assert state["rendering"].startswith("[audio: ")
        assert 60 <= state["pitch_hz"] <= 400 and "words_per_s" in state
    stats = pipeline.stats()
    assert stats["speakers"] == 2 and stats["attributed"] == len(finals)
    # One encoder look-up per segment at most, however many partials it had.
    segments = {e["segment_id"] for e in dicts if e["type"] == "PARTIAL"}
    assert 0 < stats["tentative_lookups"] <= len(segments)
    # Requests and commitments in the meeting are found in their turns.
    actions = [a for e in dicts if e["type"] == "SEMANTIC_UPDATE" for a in e["payload"]["actions"]]
    texts = [e["payload"]["turn"]["text"] for e in dicts if e["type"] == "SPEAKER_TURN"]
    assert {"request", "commitment"} <= {a["kind"] for a in actions}, texts
    assert pipeline.enricher is not None
    assert "spk-1:" in pipeline.enricher.render_context_for_llm()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("speakers")
    with run_server(root / "data", root / "server.log", tmp_path_factory.getbasetemp()) as srv:
        yield srv


def _stream(server: Server, audio: bytes, config: dict[str, object]) -> Received:
    async def run() -> Received:
        got = Received()
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(json.dumps({"type": "START_SESSION", "config": config}))
            reader = asyncio.create_task(collect(ws, got))
            await send_realtime(ws, audio, speed=2.0)
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 60)
        return got

    return asyncio.run(run())


def test_a_stream_client_gets_speakers_and_turns_by_default(
    server: Server, two_voices: Speech
) -> None:
    path, clips = two_voices.path, two_voices.clips
    got = _stream(server, pcm16(decode_file(path)), {})
    check_stream(got.events)
    _check_turns(got.events, clips)
    _check_partial_speakers(got.events)
    assert got.events[-1]["type"] == "SESSION_ENDED"
    assert got.events[-1]["payload"]["stats"]["speakers"] == 2
    _check_snapshot_turns(server, got.of("SESSION_STARTED")[0]["payload"]["session_id"], got)


def _check_snapshot_turns(server: Server, session_id: str, got: Received) -> None:
    """A client that (re)connects later redraws the turns from the SNAPSHOT alone."""
    with server.http() as http:
        snapshot = http.get(f"/sessions/{session_id}/snapshot")
    assert snapshot.status_code == 200, snapshot.text
    turns = [e["payload"] for e in got.of("SPEAKER_TURN")]
    assert len(turns) >= 2
    assert snapshot.json()["turns"] == turns


def test_diarize_false_leaves_speakers_out(server: Server, two_voices: Speech) -> None:
    path = two_voices.path
    got = _stream(server, pcm16(decode_file(path)), {"diarize": False})
    check_stream(got.events)
    finals = [f for f in got.of("FINALIZED") if f["payload"]["segment"]["text"]]
    assert finals and all(f["payload"]["segment"]["speaker_id"] is None for f in finals)
    assert not got.of("SPEAKER_TURN") and not got.of("SEMANTIC_UPDATE")


def test_a_subprocess_session_relays_speakers_and_turns(server: Server, two_voices: Speech) -> None:
    body = {"source": "file", "path": str(two_voices.path), "realtime": False}
    with server.http() as http:
        created = http.post("/sessions", json={**body, "mode": "subprocess", "prosody": True})
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]

    got = watch_session(server, sid)
    live = [e for e in got.events if e["type"] != "SNAPSHOT"]
    check_stream(live)
    _check_turns(live, two_voices.clips)
    finals = [f for f in got.of("FINALIZED") if f["payload"]["segment"]["text"]]
    assert all("pitch_hz" in f["payload"]["segment"]["audio_state"] for f in finals)
    _check_snapshot_turns(server, sid, got)
    with server.http() as http:
        vtt = http.get(f"/sessions/{sid}/transcript", params={"format": "vtt"}).text
    assert "<v Speaker 1>" in vtt and "<v Speaker 2>" in vtt


def test_live_and_transcribe_show_speakers_in_the_terminal(
    cli: CliRunner, two_voices: Speech
) -> None:
    path = two_voices.path
    live = cli("live", "--input", str(path), "--fast")
    assert live.returncode == 0, live.stderr
    headers = [line for line in live.stdout.splitlines() if line.startswith("Speaker ")]
    assert headers[:2] == ["Speaker 1:", "Speaker 2:"] and len(headers) >= 3

    vtt = cli("transcribe", str(path), "-f", "vtt")
    assert vtt.returncode == 0, vtt.stderr
    assert "<v Speaker 1>" in vtt.stdout and "<v Speaker 2>" in vtt.stdout
    txt = cli("transcribe", str(path), "-f", "txt")
    lines = txt.stdout.splitlines()
    assert lines[0].startswith("Speaker 1: ")
    assert sum(line.startswith("Speaker ") for line in lines) >= 3
    plain = cli("transcribe", str(path), "-f", "txt", "--no-diarize")
    assert not any(line.startswith("Speaker ") for line in plain.stdout.splitlines())


def test_bench_stream_scores_speakers_and_records_the_settings(
    cli: CliRunner, two_voices: Speech, tmp_path: Path
) -> None:
    """The numbers docs/PERFORMANCE.md reports for speakers, from the command it names."""
    out = tmp_path / "speakers.json"
    path = two_voices.path
    done = cli(
        "bench", "stream", str(path), "--ref", two_voices.text, "--no-offline",
        "--diarize", "--prosody", "--json", str(out), timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    assert results["true_speakers"] == results["found_speakers_max"] == 2, results
    assert results["speaker_accuracy"] >= 0.9 and results["turn_changes_found"] >= 2
    assert 0 < results["diarize_cpu_s_per_audio_s"] < 0.2
    conversation = report["settings"]["conversation"]
    assert conversation["speaker_pitch_gap_st"] == 6.0 and conversation["diarize"] is True
