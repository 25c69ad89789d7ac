"""Live translation end to end: spoken English through the real tiny.en model and the tiny
trained Marian EN→ZH model, over a real `loquilex serve`, `loquilex live` and `transcribe`."""

from __future__ import annotations

import asyncio
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from loquilex.audio import decode_file
from loquilex.bench._speech import synthesize
from loquilex.cli.live import _TerminalView
from loquilex.mt import MTStore
from loquilex.protocol import EventEmitter, FinalizedPayload, FinalSegment, TranslationPayload
from tests.protocol_checks import check_stream
from tests.server_harness import (
    Received,
    Server,
    collect,
    controls,
    pcm16,
    run_server,
    send_realtime,
    watch_session,
)
from tests.test_metrics import scrape, value
from tests.test_mt import FIXTURE, corpus

pytestmark = pytest.mark.model

#: Sentences of the tiny model's corpus that tiny.en hears word for word from espeak-ng.
SPOKEN = (
    "Please send the report to the team before Friday.",
    "Good morning everyone.",
    "Thank you very much.",
)
CHINESE = dict(corpus())
#: A caption line of `live` in a terminal: `[  12.34] text`.
CAPTION = re.compile(r"\[ *(?P<start>[0-9.]+)\] (?P<text>.+)")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mt-speech") / "spoken.wav"
    synthesize(SPOKEN, path, pauses=1.0)
    return path


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mt-data")
    MTStore(root).import_dir(FIXTURE / "ct2", "tiny-marian")
    return root


@pytest.fixture(scope="module")
def server(data_dir: Path, spoken: Path) -> Iterator[Server]:
    with run_server(data_dir, data_dir.parent / "server.log", spoken.parent) as srv:
        yield srv


def check_translations(events: list[dict[str, Any]]) -> dict[str, str]:
    """Every FINALIZED with text gets exactly one final TRANSLATION, after it, and nothing
    about that segment after that. Returns English final → its Chinese."""
    check_stream(events)
    finals: dict[str, str] = {}
    translated: dict[str, str] = {}
    for event in events:
        if event["type"] == "FINALIZED" and event["payload"]["segment"]["text"]:
            finals[event["segment_id"]] = event["payload"]["segment"]["text"].strip()
        if event["type"] == "TRANSLATION":
            payload = event["payload"]
            seg = payload["source_segment_id"]
            assert event["segment_id"] == seg and payload["lang"] == "zh"
            assert seg not in translated, f"translation of {seg} after its final one"
            if payload["final"]:
                assert seg in finals, "a final translation before its FINALIZED"
                assert payload["source_text"].strip() == finals[seg]
                assert payload["model"] == "tiny-marian" and payload["latency_ms"] >= 0
                translated[seg] = payload["text"]
    assert set(translated) == set(finals), "every final is translated exactly once"
    return {finals[s]: translated[s] for s in finals}


def test_stream_session_translates_finals_and_partials(server: Server, spoken: Path) -> None:
    audio = pcm16(decode_file(spoken))

    async def run() -> tuple[Received, Received]:
        sender, late = Received(), Received()
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(
                json.dumps(
                    {"type": "START_SESSION", "config": {"translate": True, "target_lang": "zh"}}
                )
            )
            reader = asyncio.create_task(collect(ws, sender))
            await send_realtime(ws, audio, speed=2.0)
            # A viewer that joins late redraws both languages from its SNAPSHOT.
            started = await sender.wait_for("SESSION_STARTED")
            sid = started["payload"]["session_id"]
            async with websockets.connect(f"{server.ws}/ws/{sid}") as viewer:
                await collect(viewer, late, until="SNAPSHOT")
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 60)
        return sender, late

    sender, late = asyncio.run(run())
    pairs = check_translations([e for e in sender.events if e["type"] != "SNAPSHOT"])
    exact = {en: zh for en, zh in pairs.items() if en in CHINESE}
    assert len(exact) >= 2, pairs  # tiny.en hears most of them word for word
    for en, zh in exact.items():
        assert zh == CHINESE[en]
    assert sender.of("TRANSLATION") and any(
        not e["payload"]["final"] for e in sender.of("TRANSLATION")
    ), "partials are translated too"
    assert sender.events[-1]["payload"]["stats"]["translations_final"] == len(pairs)
    snapshot = late.of("SNAPSHOT")[0]["payload"]
    shown = {t["source_segment_id"]: t["text"] for t in snapshot["translations"]}
    finals_seen = {f["segment_id"] for f in snapshot["recent_finals"]}
    assert finals_seen and finals_seen <= set(shown)
    # /metrics saw every translation (this is the module's first session).
    metrics = scrape(server)
    final_translations = [e for e in sender.of("TRANSLATION") if e["payload"]["final"]]
    assert value(metrics, "loquilex_mt_latency_seconds_count", final="true") == len(
        final_translations
    )
    assert value(metrics, "loquilex_events_total", type="TRANSLATION") >= len(
        sender.of("TRANSLATION")
    )

    sid = sender.of("SESSION_STARTED")[0]["payload"]["session_id"]
    with server.http() as http:
        data = http.get(f"/sessions/{sid}/transcript", params={"format": "json"}).json()
        assert data["translation_lang"] == "zh"
        assert [s["translation"] for s in data["segments"]] == list(pairs.values())
        vtt = http.get(f"/sessions/{sid}/transcript", params={"format": "vtt", "bilingual": True})
        assert vtt.status_code == 200
        for zh in exact.values():
            assert zh in vtt.text
        assert "bilingual" in vtt.headers["content-disposition"]


def test_models_and_languages_routes_tell_the_truth(server: Server) -> None:
    with server.http() as http:
        rows = {m["id"]: m for m in http.get("/models/mt").json()}
        assert rows["tiny-marian"]["installed"] and rows["tiny-marian"]["languages"] == ["zh"]
        assert not rows["opus-mt-en-zh"]["installed"]
        assert rows["nllb-200-distilled-600M"]["commercial"] is False
        languages = http.get("/languages/mt/tiny-marian").json()
        assert languages["languages"] == [{"code": "zh", "name": "Chinese (Simplified)"}]
        assert http.get("/languages/mt/opus-mt-en-zh").status_code == 404
        wrong = http.post("/sessions", json={"translate": True, "target_lang": "fr"})
        assert wrong.status_code == 422 and "does not translate into 'fr'" in wrong.text
        missing = http.post("/sessions", json={"translate": True, "mt_model": "opus-mt-en-zh"})
        assert missing.status_code == 422
        assert "loquilex models install opus-mt-en-zh" in missing.text


def test_subprocess_session_translates(server: Server, spoken: Path) -> None:
    body = {
        "source": "file",
        "path": spoken.name,
        "realtime": False,
        "mode": "subprocess",
        "translate": True,
    }
    with server.http() as http:
        created = http.post("/sessions", json=body)
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]

        got = watch_session(server, sid)
        pairs = check_translations(
            [e for e in got.events if e["type"] not in ("SNAPSHOT", "ERROR")]
        )
        assert sum(1 for en, zh in pairs.items() if CHINESE.get(en) == zh) >= 2, pairs
        data = http.get(f"/sessions/{sid}/transcript").json()
        assert all("translation" in s for s in data["segments"])

        async def late() -> Received:
            got = Received()
            async with websockets.connect(f"{server.ws}/ws/{sid}") as ws:
                await asyncio.wait_for(collect(ws, got), 30)
            return got

        snapshot = asyncio.run(late()).of("SNAPSHOT")[0]["payload"]
        shown = {t["source_segment_id"]: t["text"] for t in snapshot["translations"]}
        assert {f["segment_id"] for f in snapshot["recent_finals"]} == set(shown)
        http.delete(f"/sessions/{sid}", headers=controls(created.json()))


def terminal_pairs(out: str) -> dict[str, str | None]:
    """Caption → its Chinese line, read from `live` in a terminal."""
    by_start: dict[str, str] = {}
    pairs: dict[str, str | None] = {}
    last = None
    for line in out.splitlines():
        if caption := CAPTION.fullmatch(line):
            last = caption["text"]
            by_start[f"{float(caption['start']):.2f}"] = last
            pairs[last] = None
        elif named := re.fullmatch(r" +\((?P<start>[0-9.]+)\) (?P<text>.+)", line):
            pairs[by_start[named["start"]]] = named["text"]
        elif line.startswith(" ") and last is not None:
            pairs[last] = line.strip()
    return pairs


def _cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {"LX_DATA_DIR": str(data_dir), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "loquilex", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_live_and_transcribe_translate_in_the_terminal(
    data_dir: Path, spoken: Path, tmp_path: Path
) -> None:
    jsonl = _cli(
        "live", "--input", str(spoken), "--fast", "--translate", "zh", "--jsonl", data_dir=data_dir
    )
    assert jsonl.returncode == 0, jsonl.stderr
    events = [json.loads(line) for line in jsonl.stdout.splitlines()]
    pairs = check_translations(events)
    assert sum(1 for en, zh in pairs.items() if CHINESE.get(en) == zh) >= 2, pairs

    text = _cli("live", "--input", str(spoken), "--fast", "--translate", "zh", data_dir=data_dir)
    assert text.returncode == 0, text.stderr
    # Each caption's Chinese line is under it, or names the caption's start when a later
    # caption was printed first. (--fast replays as the CPU allows, so tiny.en may hear a
    # sentence slightly differently from one run to the next.)
    pairs = terminal_pairs(text.stdout)
    assert len(pairs) >= 2 and all(zh for zh in pairs.values()), text.stdout
    assert sum(1 for en, zh in pairs.items() if CHINESE.get(en) == zh) >= 2, text.stdout

    refused = _cli("live", "--input", str(spoken), "--fast", "--translate", "ko", data_dir=data_dir)
    assert refused.returncode != 0 and "does not translate into 'ko'" in refused.stderr

    out = tmp_path / "spoken.json"
    done = _cli(
        "transcribe",
        str(spoken),
        "--translate",
        "zh",
        "-f",
        "json",
        "-o",
        str(out),
        data_dir=data_dir,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["translation_lang"] == "zh" and all(s["translation"] for s in data["segments"])
    srt = _cli("export", str(out), "-f", "srt", "--bilingual", data_dir=data_dir)
    assert srt.returncode == 0 and data["segments"][0]["translation"][:4] in srt.stdout
    txt = _cli("export", str(out), "-f", "txt", "--bilingual", data_dir=data_dir)
    assert all("\t" in line for line in txt.stdout.splitlines())


def test_no_model_installed_is_a_clear_error(tmp_path: Path, spoken: Path) -> None:
    done = _cli("live", "--input", str(spoken), "--fast", "--translate", "zh", data_dir=tmp_path)
    assert done.returncode != 0
    assert "loquilex models install opus-mt-en-zh" in done.stderr


def test_bench_stream_reports_translation_latency(
    data_dir: Path, spoken: Path, tmp_path: Path
) -> None:
    out = tmp_path / "bench.json"
    done = _cli(
        "bench", "stream", str(spoken), "--ref", " ".join(SPOKEN), "--no-offline",
        "--translate", "zh", "--mt-model", "tiny-marian", "--json", str(out),
        data_dir=data_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    # What the numbers were measured with: every translation setting, e.g. its threads.
    assert report["settings"]["mt"]["threads"] == results["mt_threads"] >= 1
    assert "conversation" not in report["settings"]  # speakers were off
    assert results["translator"] == "tiny-marian"
    assert results["translations_final"] >= len(SPOKEN) - 1
    assert 0 <= results["translation_latency_p50_s"] <= results["translation_latency_max_s"]
    assert set(results["with_translation"]) == set(results["without_translation"])
    assert results["with_translation"]["cpu_s_per_audio_s"] > 0


def test_terminal_view_puts_a_late_translation_under_the_right_caption() -> None:
    out = io.StringIO()
    view = _TerminalView(out)
    emitter = EventEmitter()

    def final(seg: str, start: float, text: str) -> None:
        segment = FinalSegment(start=start, end=start + 1, text=text, words=[])
        view(
            emitter.emit(
                "FINALIZED", FinalizedPayload(segment=segment, eou_reason="silence"), segment_id=seg
            )
        )

    def translated(seg: str, text: str) -> None:
        payload = TranslationPayload(source_segment_id=seg, lang="zh", text=text, final=True)
        view(emitter.emit("TRANSLATION", payload, segment_id=seg))

    final("seg-0", 0.24, "Good morning everyone.")
    translated("seg-0", "大家早上好。")
    final("seg-1", 3.5, "Thank you very much.")
    final("seg-2", 6.0, "Please send the report to the team before Friday.")
    translated("seg-1", "非常感谢。")  # after a later caption: it names its own
    translated("seg-2", "请在星期五之前把报告发给团队。")
    assert out.getvalue().splitlines()[1] == f"{'':9s} 大家早上好。"
    assert out.getvalue().splitlines()[4] == f"{'':9s} (3.50) 非常感谢。"
    assert terminal_pairs(out.getvalue()) == {
        "Good morning everyone.": "大家早上好。",
        "Thank you very much.": "非常感谢。",
        "Please send the report to the team before Friday.": "请在星期五之前把报告发给团队。",
    }
