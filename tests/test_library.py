"""LoquiLex as a library (loquilex.stream): the documented examples run as written, the
callbacks and ``async for`` forms see the same events, and a callback that raises is
reported without stopping the stream. Real tiny.en model, real voice encoder."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loquilex.audio import decode_file
from loquilex.config import load_settings
from loquilex.protocol import Envelope
from loquilex.stream import CaptionStream, StreamCallbacks, StreamError
from tests.conftest import Speech
from tests.protocol_checks import check_stream

pytestmark = pytest.mark.model

ROOT = Path(__file__).parent.parent
EXAMPLES = ROOT / "examples"


def _example(name: str, audio: Path, data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(EXAMPLES / name), str(audio)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "LX_DATA_DIR": str(data_dir)},
        check=False,
    )


def test_the_docs_show_the_examples_as_they_are() -> None:
    doc = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    for name in ("library_callbacks.py", "library_events.py"):
        assert (EXAMPLES / name).read_text(encoding="utf-8").strip() in doc, name


def test_the_callbacks_example_prints_who_said_what(two_voices: Speech, tmp_path: Path) -> None:
    run = _example("library_callbacks.py", two_voices.path, tmp_path)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert any(line.startswith("spk-0 [") for line in lines), run.stdout
    assert any(line.startswith("spk-1 [") for line in lines), run.stdout
    assert any(line.startswith("-- turn-0: spk-0 spoke") for line in lines), run.stdout
    assert any("request: " in line for line in lines), run.stdout
    context = lines[lines.index("context for a model:") + 1 :]
    assert context and context[0].startswith("[00:00] spk-0: ")


def test_the_events_example_prints_every_sentence(speech: Speech, tmp_path: Path) -> None:
    run = _example("library_events.py", speech.path, tmp_path)
    assert run.returncode == 0, run.stderr
    finals = [line for line in run.stdout.splitlines() if line.startswith("[")]
    assert len(finals) >= len(speech.clips), run.stdout


class _Recorder(StreamCallbacks):
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.errors: list[StreamError] = []

    def on_partial(self, event: Envelope) -> None:
        self.calls.append("partial")
        raise ValueError("a bug in the user's partial handler")

    def on_finalized(self, event: Envelope) -> None:
        self.calls.append("finalized")

    def on_speaker_turn(self, event: Envelope) -> None:
        self.calls.append("turn")

    def on_semantic_update(self, event: Envelope) -> None:
        self.calls.append("semantic")

    def on_error(self, error: StreamError) -> None:
        self.errors.append(error)


def test_a_raising_callback_is_reported_and_the_stream_goes_on(
    two_voices: Speech, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LX_DATA_DIR", str(tmp_path))
    settings = load_settings()[0]
    recorder = _Recorder()

    async def run() -> tuple[list[Envelope], CaptionStream]:
        samples = decode_file(two_voices.path)
        stream = await CaptionStream.open(None, callbacks=recorder, settings=settings)
        seen: list[Envelope] = []

        async def feed() -> None:
            for start in range(0, len(samples), 3200):  # 0.2 s at a time, 4x real time
                stream.push(samples[start : start + 3200])
                await asyncio.sleep(0.05)
            stream.end()

        feeder = asyncio.create_task(feed())
        async for event in stream.events():
            seen.append(event)
        await feeder
        return seen, stream

    seen, stream = asyncio.run(run())
    check_stream([e.model_dump(mode="json") for e in seen])
    assert seen[-1].type == "SESSION_ENDED"
    finals = [e for e in seen if e.type == "FINALIZED"]
    assert recorder.calls.count("finalized") == len(finals) >= 3
    assert recorder.calls.count("turn") == recorder.calls.count("semantic") >= 3
    partials = recorder.calls.count("partial")
    assert partials > 0 and stream.callback_errors == partials
    assert len(recorder.errors) == partials
    error = recorder.errors[0]
    assert error.code == "CALLBACK_ERROR" and error.recoverable
    assert isinstance(error.exception, ValueError)
    assert error.event is not None and error.event.type == "PARTIAL"


def test_push_is_only_for_streams_without_a_source(speech: Speech, tmp_path: Path) -> None:
    async def run() -> None:
        stream = await CaptionStream.open(
            speech.path, diarize=False, settings=load_settings(overrides={"data_dir": tmp_path})[0]
        )
        with pytest.raises(TypeError, match="push"):
            stream.push(b"\0\0" * 160)
        await stream.close()

    asyncio.run(run())
