"""`loquilex transcribe` and `loquilex export` through the installed entry point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from loquilex.bench import word_error_rate
from tests.conftest import WER_BOUND, CliRunner, Speech

pytestmark = pytest.mark.model


def _one_line_error(proc: object) -> str:
    stderr: str = proc.stderr  # type: ignore[attr-defined]
    assert proc.returncode != 0  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_transcribes_speech_within_wer_bound(cli: CliRunner, speech: Speech) -> None:
    proc = cli("transcribe", str(speech.path))
    assert proc.returncode == 0, proc.stderr
    wer = word_error_rate(speech.text, proc.stdout)
    assert wer <= WER_BOUND, (wer, proc.stdout)


def test_json_then_export_gives_identical_bytes(
    cli: CliRunner, speech: Speech, tmp_path: Path
) -> None:
    json_path = tmp_path / "t.json"
    assert cli("transcribe", str(speech.path), "-f", "json", "-o", str(json_path)).returncode == 0
    data = json.loads(json_path.read_text())
    assert data["model"] == "tiny.en"
    assert data["duration"] == pytest.approx(speech.clips[-1].end + 1.0, abs=0.05)
    assert len(data["segments"]) >= len(speech.clips) - 1
    first = data["segments"][0]
    assert first["words"] and {"w", "t0", "t1", "conf"} <= first["words"][0].keys()
    # Segment times line up with where the sentences really are.
    assert first["start"] == pytest.approx(speech.clips[0].start, abs=0.6)

    for fmt in ("vtt", "srt", "txt"):
        direct = cli("transcribe", str(speech.path), "-f", fmt)
        exported = cli("export", str(json_path), "-f", fmt)
        assert direct.returncode == exported.returncode == 0, direct.stderr + exported.stderr
        assert direct.stdout.encode() == exported.stdout.encode(), fmt
    assert direct.stdout.strip()


def test_output_file_and_vtt_shape(cli: CliRunner, speech: Speech, tmp_path: Path) -> None:
    out = tmp_path / "captions.vtt"
    proc = cli("transcribe", str(speech.path), "-f", "vtt", "-o", str(out), "--beam", "1")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    text = out.read_text()
    assert text.startswith("WEBVTT\n\n1\n00:00:0")
    assert " --> " in text


def test_missing_file(cli: CliRunner, tmp_path: Path) -> None:
    line = _one_line_error(cli("transcribe", str(tmp_path / "nope.wav")))
    assert "no such file" in line


def test_non_audio_file(cli: CliRunner, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.wav"
    bogus.write_text("these are meeting notes, not audio\n" * 20)
    line = _one_line_error(cli("transcribe", str(bogus)))
    assert "not an audio file" in line


def test_truncated_wav(cli: CliRunner, speech: Speech, tmp_path: Path) -> None:
    cut = tmp_path / "cut.wav"
    data = speech.path.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    line = _one_line_error(cli("transcribe", str(cut)))
    assert "truncated WAV" in line


def test_unknown_format(cli: CliRunner, speech: Speech) -> None:
    proc = cli("transcribe", str(speech.path), "-f", "docx")
    line = _one_line_error(proc)
    assert proc.returncode == 2
    assert "docx" in line


def test_unknown_model(cli: CliRunner, speech: Speech) -> None:
    line = _one_line_error(cli("transcribe", str(speech.path), "--model", "gigantic"))
    assert "unknown model 'gigantic'" in line


def test_broken_model_dir(cli: CliRunner, speech: Speech, tmp_path: Path) -> None:
    from loquilex.models import ModelStore

    broken = tmp_path / "broken-model"
    shutil.copytree(ModelStore(tmp_path).resolve("tiny.en"), broken)
    (broken / "tokenizer.json").unlink()
    line = _one_line_error(cli("transcribe", str(speech.path), "--model", str(broken)))
    assert "broken" in line and "tokenizer.json" in line


def test_corrupt_model_weights(cli: CliRunner, speech: Speech, tmp_path: Path) -> None:
    from loquilex.models import ModelStore

    broken = tmp_path / "garbage-model"
    shutil.copytree(ModelStore(tmp_path).resolve("tiny.en"), broken)
    (broken / "model.bin").write_bytes(b"\0" * 4096)
    line = _one_line_error(cli("transcribe", str(speech.path), "--model", str(broken)))
    assert "cannot load the model 'garbage-model'" in line and "reinstall" in line
    assert "vocabulary" not in line  # CTranslate2's own words stay out of the user's line


def test_export_rejects_non_transcript(cli: CliRunner, tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"hello": 1}')
    line = _one_line_error(cli("export", str(bad), "-f", "vtt"))
    assert "not a LoquiLex transcript" in line
