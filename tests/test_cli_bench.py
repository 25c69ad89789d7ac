"""`loquilex bench stream|replay|fanout` produce the numbers and JSON the docs cite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import STREAM_WER_BOUND, CliRunner, Speech

pytestmark = [pytest.mark.model, pytest.mark.slow]


def test_bench_stream_reports_and_writes_json(
    cli: CliRunner, speech: Speech, tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    ref = tmp_path / "ref.txt"
    ref.write_text(speech.text)
    proc = cli(
        "bench",
        "stream",
        str(speech.path),
        "--ref",
        str(ref),
        "--no-offline",
        "--json",
        str(out),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    assert report["command"].startswith("loquilex bench stream")
    assert report["machine"]["cpus"] >= 1
    if Path("/proc/cpuinfo").exists():  # the CPU picks CTranslate2's kernels: it is recorded
        assert report["machine"]["cpu_model"]
    assert results["streams"] == 1
    assert results["wer"] <= STREAM_WER_BOUND
    assert results["sentences_not_finalized"] == 0
    assert 0 < results["final_latency_p50_s"] < 1.5  # measured against the true sentence ends
    assert results["words_in_silence"] == 0
    assert 0 < results["cpu_s_per_audio_s"] < 2
    assert "final_latency_p95_s" in proc.stdout
    # Sentences final over 1.5 s after their end are named, the latest first.
    late = results["late_sentences"]
    assert (results["final_latency_max_s"] > 1.5) == bool(late)
    assert all(entry["text"] in speech.text and entry["latency_s"] > 1.5 for entry in late)
    assert [e["latency_s"] for e in late] == sorted((e["latency_s"] for e in late), reverse=True)


def test_bench_replay_is_deterministic_and_lists_late_sentences(
    cli: CliRunner, speech: Speech, tmp_path: Path
) -> None:
    reports = []
    for run in ("a", "b"):
        out = tmp_path / f"{run}.json"
        proc = cli(
            "bench",
            "replay",
            str(speech.path),
            "--ref",
            speech.text,
            "--finals",
            "--late",
            "0",
            "--json",
            str(out),
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        reports.append(json.loads(out.read_text()))
    first, second = reports
    results = first["results"]
    assert first["command"].startswith("loquilex bench replay")
    assert results["sentences"] == len(speech.clips) == results["finals"]
    assert results["sentences_not_finalized"] == 0 and results["words_in_silence"] == 0
    assert results["wer"] <= STREAM_WER_BOUND
    # A pause follows every sentence here: final about 0.3 s of audio after its end.
    assert 0 < results["final_latency_p50_s"] <= 0.8
    assert len(first["late"]) == len(speech.clips)  # --late 0 lists every sentence
    # On the audio clock the same code gives the same finals, whatever the machine does.
    assert first["hypotheses"] == second["hypotheses"]
    assert {k: v for k, v in results.items() if k != "cpu_s"} == {
        k: v for k, v in second["results"].items() if k != "cpu_s"
    }
    assert "punctuation" in proc.stdout and "late " in proc.stdout


def test_bench_fanout(cli: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "f.json"
    proc = cli(
        "bench", "fanout", "--subscribers", "5", "--events", "40", "--json", str(out), timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(out.read_text())["results"]
    assert results["deliveries"] == 5 * 40
    assert results["emit_to_receive_p99_ms"] > 0


def test_bench_server_soak_churns_sessions_and_samples_memory(
    cli: CliRunner, speech: Speech, tmp_path: Path
) -> None:
    out = tmp_path / "soak.json"
    proc = cli(
        "bench",
        "server-soak",
        str(speech.path),
        "--minutes",
        "1",
        "--speed",
        "2.5",
        "--json",
        str(out),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    assert results["long_session_finals"] >= 8  # four sentences, at least twice over
    assert results["short_sessions"] >= 1 and results["vanished"] >= 1
    assert results["unfed_rest"] >= 1 and results["refused"] == 0
    assert results["rss_mb_max"] < 1000
    assert report["samples"] and all(s["rss_mb"] > 0 for s in report["samples"])
