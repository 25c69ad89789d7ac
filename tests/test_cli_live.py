"""`loquilex live` through the installed entry point: the JSON-lines contract and signals."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from loquilex.bench import word_error_rate
from tests.conftest import (
    STREAM_WER_BOUND,
    CliRunner,
    Speech,
    assert_sentences_finalized,
    loquilex_bin,
)
from tests.protocol_checks import check_stream, final_text

pytestmark = pytest.mark.model


def _lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_jsonl_on_a_file_is_valid_spec_envelopes(cli: CliRunner, speech: Speech) -> None:
    proc = cli("live", "--input", str(speech.path), "--fast", "--jsonl")
    assert proc.returncode == 0, proc.stderr
    events = _lines(proc.stdout)  # every stdout line is JSON, nothing else
    check_stream(events)
    assert events[0]["type"] == "SESSION_STARTED" and events[0]["event_id"] == 1
    assert events[1]["payload"]["stage"] == "operational"
    assert events[-1]["type"] == "SESSION_ENDED"
    finals = [e for e in events if e["type"] == "FINALIZED"]
    assert events[-1]["payload"]["stats"]["finals"] == len(finals)
    # One final per sentence, or a couple more where Whisper heard a sentence end mid-way.
    assert len(speech.clips) <= len(finals) <= len(speech.clips) + 2
    types = [e["type"] for e in events]
    assert types.count("PARTIAL") >= len(speech.clips)
    assert word_error_rate(speech.text, final_text(events)) <= STREAM_WER_BOUND
    assert_sentences_finalized(events, speech.clips)


def test_terminal_view_commits_finals(cli: CliRunner, speech: Speech) -> None:
    proc = cli("live", "--input", str(speech.path), "--fast")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    # One voice: one speaker header, then one line per final.
    assert lines[0] == "Speaker 1:"
    captions = lines[1:]
    assert len(speech.clips) <= len(captions) <= len(speech.clips) + 2
    assert all(line.startswith("[") for line in captions)
    plain = cli("live", "--input", str(speech.path), "--fast", "--no-diarize")
    assert not any(line.startswith("Speaker") for line in plain.stdout.splitlines())


def test_sigusr1_finalizes_and_sigterm_flushes(data_dir: Path, speech: Speech) -> None:
    env = {**os.environ, "LX_DATA_DIR": str(data_dir)}
    with subprocess.Popen(
        [loquilex_bin(), "live", "--input", str(speech.path), "--jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None
        started = None
        lines: list[str] = []
        # Wait for the session to start, then signal at known points of the audio clock.
        lines.append(proc.stdout.readline())
        started = time.monotonic()
        first = speech.clips[0]
        time.sleep(
            max(first.start + (first.end - first.start) * 0.6 - (time.monotonic() - started), 0)
        )
        proc.send_signal(signal.SIGUSR1)
        second = speech.clips[1]
        time.sleep(max(second.start + 1.0 - (time.monotonic() - started), 0))
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        lines += out.splitlines()
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in lines if line.strip()]
    check_stream(events)
    finals = [e for e in events if e["type"] == "FINALIZED"]
    reasons = [f["payload"]["eou_reason"] for f in finals]
    assert reasons[0] == "forced"
    assert reasons[-1] == "end_of_stream"  # SIGTERM mid-sentence flushed the open segment
    assert events[-2]["type"] == "STATUS" and "SIGTERM" in events[-2]["payload"]["message"]
    assert events[-1]["type"] == "SESSION_ENDED"
    assert events[-1]["payload"]["stats"]["audio_s"] < speech.clips[-1].end


def test_fast_needs_a_file(cli: CliRunner) -> None:
    proc = cli("live", "--fast")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "loquilex: error: --fast needs --input FILE"


def test_missing_microphone_is_one_clear_line(cli: CliRunner) -> None:
    proc = cli("live", "--input", "mic", timeout=60)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "microphone" in lines[0], proc.stderr
