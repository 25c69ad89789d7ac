"""The OpenAI-compatible API with the real `openai` client against a real `loquilex serve`
and the real model: `/v1/audio/transcriptions` in every format, `/v1/models`, and the errors
in OpenAI's shape."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import openai
import pytest

from loquilex.bench import word_error_rate
from loquilex.bench._speech import write_wav
from loquilex.server._openai import OpenAIError, TranscriptionQueue
from tests.conftest import STREAM_WER_BOUND, Speech
from tests.server_harness import Server, run_server

KEY = "sk-local-test-key"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("openai")
    with run_server(
        root / "data",
        root / "server.log",
        LX_SERVER__AUTH_TOKEN=KEY,
        LX_SERVER__MAX_UPLOAD_MB="1",
    ) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: Server) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(
        base_url=f"{server.url}/v1", api_key=KEY, max_retries=0, timeout=120
    ) as client:
        yield client


pytestmark = pytest.mark.model


def test_json_and_text_are_the_transcript(client: openai.OpenAI, speech: Speech) -> None:
    with speech.path.open("rb") as audio:
        result = client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert word_error_rate(speech.text, result.text) <= STREAM_WER_BOUND, result.text
    with speech.path.open("rb") as audio:
        text = client.audio.transcriptions.create(
            model="tiny.en", file=audio, response_format="text", prompt="Weather, park, bread."
        )
    assert isinstance(text, str) and word_error_rate(speech.text, text) <= STREAM_WER_BOUND


def test_verbose_json_has_segments_and_words(client: openai.OpenAI, speech: Speech) -> None:
    with speech.path.open("rb") as audio:
        result = client.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
            temperature=0,
        )
    assert result.language == "english"
    assert result.duration == pytest.approx(speech.clips[-1].end + 1.0, abs=1.0)
    segments = result.segments or []
    assert len(segments) >= len(speech.clips) - 1
    for seg in segments:
        assert 0 <= seg.start < seg.end <= result.duration + 0.5
        assert seg.tokens and seg.temperature == 0 and seg.compression_ratio > 0
    words = result.words or []
    assert len(words) == len(result.text.split())
    assert all(a.start <= b.start for a, b in itertools.pairwise(words))
    # The first word lies inside the first spoken sentence.
    first = speech.clips[0]
    assert first.start - 0.5 <= words[0].start <= first.end

    with speech.path.open("rb") as audio:
        only_words = client.audio.transcriptions.create(
            model="whisper-1",
            file=audio,
            response_format="verbose_json",
            timestamp_granularities=["word"],
        )
    assert only_words.words and not only_words.segments


def test_subtitles(client: openai.OpenAI, speech: Speech) -> None:
    with speech.path.open("rb") as audio:
        srt = client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="srt"
        )
    cues = re.findall(r"(\d+)\n(\d\d:\d\d:\d\d,\d\d\d) --> (\d\d:\d\d:\d\d,\d\d\d)\n(.+)", str(srt))
    assert [int(c[0]) for c in cues] == list(range(1, len(cues) + 1)) and cues
    with speech.path.open("rb") as audio:
        vtt = client.audio.transcriptions.create(
            model="whisper-1", file=audio, response_format="vtt"
        )
    assert str(vtt).startswith("WEBVTT") and "-->" in str(vtt)


def test_diarized_json_labels_speakers_as_openai_does(
    client: openai.OpenAI, two_voices: Speech
) -> None:
    with two_voices.path.open("rb") as audio:
        result = client.audio.transcriptions.create(
            model="tiny.en", file=audio, response_format="diarized_json"
        )
    body = result.model_dump()
    assert body["task"] == "transcribe" and body["duration"] > 10
    segments = body["segments"]
    assert segments and all(s["type"] == "transcript.text.segment" for s in segments)
    assert segments[0]["speaker"] == "A"
    assert {s["speaker"] for s in segments} == {"A", "B"}
    # Each letter stands for one true voice: the clip a segment overlaps most decides it.
    voice_of: dict[str, set[str | None]] = {"A": set(), "B": set()}
    for segment in segments:
        clip = max(
            two_voices.clips,
            key=lambda c: min(c.end, segment["end"]) - max(c.start, segment["start"]),
        )
        voice_of[segment["speaker"]].add(clip.speaker)
    assert voice_of["A"] == {"v0"} and voice_of["B"] == {"v1"}, segments
    assert " ".join(s["text"] for s in segments).split() == body["text"].split()


def test_diarized_json_without_the_voice_encoder_says_how_to_get_it(
    tmp_path: Path, speech: Speech
) -> None:
    # A `resemblyzer` package without its weights, first on the path: no encoder installed.
    shim = tmp_path / "shim" / "resemblyzer"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("")
    env = {"PYTHONPATH": str(shim.parent), "LX_SERVER__AUTH_TOKEN": KEY}
    with (
        run_server(tmp_path / "data", tmp_path / "server.log", **env) as bare,
        openai.OpenAI(base_url=f"{bare.url}/v1", api_key=KEY, max_retries=0) as client,
        speech.path.open("rb") as audio,
        pytest.raises(openai.BadRequestError) as refused,
    ):
        client.audio.transcriptions.create(
            model="tiny.en", file=audio, response_format="diarized_json"
        )
    assert "voice encoder" in refused.value.message and "resemblyzer" in refused.value.message


def test_models_lists_the_installed_ones(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[0] == "whisper-1" and "tiny.en" in ids


def test_errors_come_in_openai_shape(
    server: Server, client: openai.OpenAI, speech: Speech, tmp_path: Path
) -> None:
    def send(**kwargs: object) -> None:
        with speech.path.open("rb") as audio:
            client.audio.transcriptions.create(file=audio, **{"model": "whisper-1", **kwargs})  # type: ignore[call-overload]

    with pytest.raises(openai.BadRequestError) as bad:
        send(language="fr")
    assert bad.value.param == "language" and "English only" in bad.value.message
    with pytest.raises(openai.NotFoundError) as missing:
        send(model="large-v3")
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        send(response_format="docx")
    assert bad.value.param == "response_format"

    with (
        openai.OpenAI(base_url=f"{server.url}/v1", api_key="sk-wrong", max_retries=0) as wrong,
        pytest.raises(openai.AuthenticationError) as denied,
    ):
        wrong.models.list()
    assert denied.value.code == "invalid_api_key"

    not_audio = tmp_path / "notes.wav"
    not_audio.write_bytes(b"this is not audio at all" * 100)
    with pytest.raises(openai.BadRequestError) as bad, not_audio.open("rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert bad.value.code == "invalid_audio" and "notes.wav" in bad.value.message
    assert "lx-upload" not in bad.value.message  # never our temporary file's name

    big = tmp_path / "long.wav"
    write_wav(big, np.zeros(16000 * 40, dtype=np.float32))  # 1.3 MB over a 1 MB cap
    with pytest.raises(openai.APIStatusError) as too_big, big.open("rb") as fh:
        client.audio.transcriptions.create(model="whisper-1", file=fh)
    assert too_big.value.status_code == 413 and too_big.value.code == "file_too_large"

    def chunks() -> Iterator[bytes]:
        yield speech.path.read_bytes()

    unsized = httpx.post(
        f"{server.url}/v1/audio/transcriptions",
        content=chunks(),
        headers={"Authorization": f"Bearer {KEY}", "Content-Type": "multipart/form-data"},
    )
    assert unsized.status_code == 411 and unsized.json()["error"]["message"]

    # The server is fine after all that.
    with speech.path.open("rb") as audio:
        assert client.audio.transcriptions.create(model="whisper-1", file=audio).text


def test_the_queue_takes_one_at_a_time_and_refuses_beyond_its_room() -> None:
    async def run() -> list[str]:
        queue = TranscriptionQueue(waiting=1)
        log: list[str] = []
        release = asyncio.Event()

        async def job(name: str) -> None:
            try:
                async with queue:
                    log.append(f"{name} runs")
                    await release.wait()
            except OpenAIError as exc:
                log.append(f"{name} refused {exc.status}")

        first = asyncio.create_task(job("a"))
        await asyncio.sleep(0)
        second = asyncio.create_task(job("b"))
        await asyncio.sleep(0)
        await job("c")  # one runs, one waits: no room for a third
        release.set()
        await asyncio.gather(first, second)
        return log

    assert asyncio.run(run()) == ["a runs", "c refused 429", "b runs"]
