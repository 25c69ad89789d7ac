"""The streaming engine on speech that looks like real use, with the real tiny.en model:
run-together sentences in a three-voice meeting, quiet speech over a noise floor, whispered
speech, and sounds that are not speech at all (noise, hum, music, typing, coughs, breaths).

Replays are synchronous (every 20 ms chunk processed before the next), and latencies here
are on the audio clock: how much audio past a sentence's end the engine needed before it
finalized it. That is the engine's own doing and deterministic; the compute time on top
depends on the machine and is measured by `make bench` (docs/PERFORMANCE.md), not here.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from loquilex.asr import StreamingASR, UtteranceFinal, WhisperEngine, transcribe_array
from loquilex.audio import SAMPLE_RATE, decode_file
from loquilex.bench import SpeechClip, wer_counts
from loquilex.bench._devset import build_devset
from loquilex.bench._replay import replay
from loquilex.bench._speech import SpokenPiece, compose, speak, write_wav
from loquilex.bench._stream import offline_reference
from loquilex.config import StreamConfig
from loquilex.models import ModelStore, load_whisper
from tests.conftest import SENTENCES

pytestmark = pytest.mark.model


@dataclass(frozen=True)
class Recording:
    path: Path
    text: str
    clips: list[SpeechClip]


@dataclass(frozen=True)
class Run:
    finals: list[tuple[float, UtteranceFinal]]  # (audio position when emitted, final)

    @property
    def text(self) -> str:
        return " ".join(f.text for _, f in self.finals if f.text)

    def latencies(self, clips: list[SpeechClip]) -> list[float]:
        """Per sentence: when the final covering its end came out, after the end."""
        out = []
        for clip in clips:
            hit = next((t for t, f in self.finals if f.text and f.end >= clip.end - 0.5), None)
            assert hit is not None, f"never finalized: {clip.text!r}"
            out.append(hit - clip.end)
        return out


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> object:
    store = ModelStore(tmp_path_factory.mktemp("data"))
    return load_whisper(store.resolve("tiny.en"), "cpu", "int8", 1)


def _load(path: Path) -> Recording:
    timing = json.loads(path.with_suffix(".timing.json").read_text())
    return Recording(
        path,
        path.with_suffix(".txt").read_text().strip(),
        [SpeechClip(c["text"], c["start"], c["end"]) for c in timing],
    )


@pytest.fixture(scope="module")
def turns(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """The dev set's three-voice meeting: 26 sentences, run together inside turns."""
    root = tmp_path_factory.mktemp("devset")
    build_devset(root, root / "cache", names=["meeting-turns"], real=False)
    return _load(root / "meeting-turns.wav")


@pytest.fixture(scope="module")
def quiet(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """Four sentences at about -40 dBFS over a -66 dBFS noise floor, run together."""
    path = tmp_path_factory.mktemp("quiet") / "quiet.wav"
    pieces = []
    for text in SENTENCES:
        audio = speak(text)
        rms = float(np.sqrt(np.mean(audio**2)))
        pieces.append(SpokenPiece(text, audio * (10 ** (-40 / 20) / rms)))
    compose(pieces, path, pauses=[0.12, 0.6, 0.1])
    audio = decode_file(path)
    noise = np.random.default_rng(2).standard_normal(len(audio)) * 10 ** (-66 / 20)
    write_wav(path, (audio + noise).astype(np.float32))
    return _load(path)


def _stream(model: object, path: Path, config: StreamConfig | None = None) -> Run:
    """The synchronous replay of ``loquilex bench replay``."""
    return Run(replay(WhisperEngine(model), decode_file(path), "", config=config).finals)  # type: ignore[arg-type]


def _words_in_silence(run: Run, clips: list[SpeechClip]) -> int:
    return sum(
        1
        for _, f in run.finals
        for w in f.words
        if not any(w.t1 > c.start - 0.3 and w.t0 < c.end + 0.3 for c in clips)
    )


def test_run_together_sentences_are_final_without_waiting_for_the_turn(
    model: object, turns: Recording
) -> None:
    run = _stream(model, turns.path)
    latencies = run.latencies(turns.clips)
    # Before sentence finals, a sentence waited for the end of its speaker's turn: the
    # median was 2.2 s and the worst 9 s of wall time on this recording. On the audio clock
    # they are now 0.6 s and 3.0 s (2026-12-07), plus 0.3-0.9 s of decoding on 2 cores.
    assert statistics.median(latencies) <= 1.0, sorted(latencies)
    assert max(latencies) <= 4.0, sorted(latencies)
    # One final per sentence, give or take a few that tiny.en hears run together.
    assert len([f for _, f in run.finals if f.text]) >= len(turns.clips) - 6
    assert _words_in_silence(run, turns.clips) == 0
    offline = wer_counts(turns.text, offline_reference(model, turns.path))
    streaming = wer_counts(turns.text, run.text)
    # faster-whisper's own offline beam-5 transcription is the bar (measured: 1.15x).
    assert streaming.wer <= 1.3 * offline.wer + 0.02, (streaming, offline, run.text)
    assert streaming.deletions <= 0.04 * streaming.reference_words, run.text
    # Finals come in order on the audio clock (SPEC §2 guarantee 3).
    starts = [f.start for _, f in run.finals]
    assert starts == sorted(starts)


@pytest.fixture(scope="module")
def whispered(tmp_path_factory: pytest.TempPathFactory) -> Recording:
    """The dev set's whispered meeting: two hoarse, breathy voices at about -35 dBFS over a
    faint noise floor, 12 sentences run together. Silero scores much of it as silence."""
    root = tmp_path_factory.mktemp("whisper")
    build_devset(root, root / "cache", names=["quiet-whisper"], real=False)
    return _load(root / "quiet-whisper.wav")


@pytest.mark.parametrize("vad", ["silero", "energy", "hybrid"])
def test_quiet_speech_is_not_dropped(model: object, quiet: Recording, vad: str) -> None:
    run = _stream(model, quiet.path, StreamConfig(vad=vad))  # type: ignore[arg-type]
    counts = wer_counts(quiet.text, run.text)
    assert counts.deletions <= 0.05 * counts.reference_words, run.text
    # tiny.en mishears this espeak voice at any level ("But when there is ice today" for
    # "The weather is nice today"): about 20-26% here, so the bound is on what is lost.
    assert counts.wer <= 0.35, run.text
    run.latencies(quiet.clips)  # every sentence finalized
    assert _words_in_silence(run, quiet.clips) == 0


def test_whispered_speech_is_captioned_with_the_default_detector(
    model: object, whispered: Recording
) -> None:
    run = _stream(model, whispered.path)  # the default: vad = hybrid
    counts = wer_counts(whispered.text, run.text)
    # With Silero alone 35 of the 88 words were never captioned and 4 of the 12 sentences
    # never finalized (measured 2026-12-07); the level gate beside it hears them.
    assert counts.deletions <= 0.1 * counts.reference_words, run.text
    assert counts.wer <= 0.4, run.text  # tiny.en mishears whispering: 28% measured
    run.latencies(whispered.clips)  # every sentence finalized
    assert _words_in_silence(run, whispered.clips) == 0


def _tone(freq: float, seconds: float, amp: float = 0.08, vibrato: float = 0.0) -> np.ndarray:
    """A note with five harmonics (an organ or string voice); ``vibrato`` in radians."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    phase = 2 * np.pi * freq * t + vibrato * np.sin(2 * np.pi * 5.5 * t)
    return amp * sum(np.sin(k * phase) / k for k in range(1, 6))


def _not_speech() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(4)
    t = np.arange(SAMPLE_RATE * 5) / SAMPLE_RATE
    melody = []
    for i in range(24):
        f = float(rng.choice([261.6, 293.7, 329.6, 349.2, 392.0, 440.0, 493.9]))
        d = 0.5 if i % 3 == 0 else 0.25
        envelope = np.exp(-np.arange(int(d * SAMPLE_RATE)) / SAMPLE_RATE * 2.5)
        melody.append((_tone(f, d) + _tone(f * 1.5, d, 0.04)) * envelope)
    beat = np.zeros(SAMPLE_RATE * 5)
    for k in range(20):
        at, n = int(k * 0.25 * SAMPLE_RATE), 2000
        beat[at : at + n] += (
            0.3 * np.sin(2 * np.pi * 60 * np.arange(n) / SAMPLE_RATE) * np.exp(-np.arange(n) / 600)
        )
        if k % 2:
            beat[at : at + 800] += rng.standard_normal(800) * 0.05 * np.exp(-np.arange(800) / 150)
    typing = np.zeros(SAMPLE_RATE * 4)
    at = 0
    while at < len(typing) - 1000:  # key clicks 80-250 ms apart
        typing[at : at + 240] += rng.standard_normal(240) * 0.3 * np.exp(-np.arange(240) / 48)
        at += int(rng.uniform(0.08, 0.25) * SAMPLE_RATE)
    c = np.arange(int(0.35 * SAMPLE_RATE)) / SAMPLE_RATE  # a cough: a burst, a little voice
    cough = (
        np.exp(-c / 0.08)
        * (1 - np.exp(-c / 0.01))
        * (rng.standard_normal(len(c)) + 0.3 * np.sin(2 * np.pi * 180 * c))
    )
    return {
        "keyboard typing": typing,
        "coughs": np.concatenate([0.8 * cough, np.zeros(3200), 0.6 * cough]),
        "hiss": rng.standard_normal(SAMPLE_RATE * 4) * 0.002,
        "noise": rng.standard_normal(SAMPLE_RATE * 4) * 0.1,
        "mains hum": 0.01 * np.sin(2 * np.pi * 50 * t[: SAMPLE_RATE * 3]),
        "held organ chord": _tone(220, 5) + _tone(277.2, 5, 0.05) + _tone(329.6, 5, 0.05),
        "string chord with vibrato": sum(_tone(f, 5, vibrato=3) for f in (196, 246.9, 293.7)),
        "piano-like melody": np.concatenate(melody),
        "drum beat": beat,
        "whistle": 0.1 * np.sin(2 * np.pi * (1200 + 400 * np.sin(2 * np.pi * 0.7 * t)) * t),
    }


@pytest.mark.parametrize("vad", ["hybrid", "energy", "silero"])
def test_noise_hum_and_music_give_no_text(model: object, vad: str) -> None:
    """SPEC §5: silence, noise, music, typing and coughs produce no text, with every
    detector. A held chord opens the level gate (and its attack Silero): it came out as
    "The end of" before the stricter no-speech rule for audio no voice model heard."""
    gap = np.zeros(SAMPLE_RATE)
    for name, sound in _not_speech().items():
        audio = np.concatenate([gap, sound, gap]).astype(np.float32)
        asr = StreamingASR(WhisperEngine(model), StreamConfig(vad=vad))  # type: ignore[arg-type]
        texts = []
        for i in range(0, len(audio), 1600):
            asr.feed(audio[i : i + 1600])
            texts += [e.text for e in asr.process() if e.text]
        asr.end()
        texts += [e.text for e in asr.process() if e.text]
        assert texts == [], name


def _breath(seconds: float, dbfs: float, rng: np.random.Generator) -> np.ndarray:
    """An audible breath: pink-ish noise in 300-2500 Hz, faded in and out."""
    n = int(seconds * SAMPLE_RATE)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spectrum *= ((freqs >= 300) & (freqs <= 2500)) / np.sqrt(np.maximum(freqs, 1.0))
    sound = np.fft.irfft(spectrum, n)
    ramp = np.minimum(1.0, np.minimum(np.arange(n), n - np.arange(n)) / (0.2 * SAMPLE_RATE))
    sound *= ramp
    return sound * (10 ** (dbfs / 20) / float(np.sqrt(np.mean(sound**2))))


@pytest.mark.parametrize("dbfs", [-44, -34])
def test_breaths_between_sentences_give_no_text(model: object, tmp_path: Path, dbfs: float) -> None:
    """A breath opens the level gate but no voice model. Whisper decoded one after the last
    sentence as "Thank you." (no-speech 0.41, log-probability -0.84) before the stricter
    log-probability rule for audio no voice model heard."""
    path = tmp_path / "breaths.wav"
    pieces = [SpokenPiece(text, speak(text)) for text in SENTENCES[1:]]
    clips = compose(pieces, path, pauses=2.2, tail=2.2)
    audio = decode_file(path)
    rng = np.random.default_rng(7)
    for clip in clips:
        at = int((clip.end + 0.8) * SAMPLE_RATE)
        breath = _breath(0.6, dbfs, rng)
        audio[at : at + len(breath)] += breath.astype(np.float32)
    write_wav(path, audio)
    run = _stream(model, path)  # the default detector: the level gate hears breaths
    assert _words_in_silence(run, clips) == 0, run.text
    run.latencies(clips)  # every sentence finalized
    assert wer_counts(" ".join(c.text for c in clips), run.text).insertions <= 1, run.text


def test_offline_transcription_is_faster_whispers_own_with_timed_words(
    model: object, turns: Recording
) -> None:
    audio = decode_file(turns.path)
    transcript = transcribe_array(model, audio, model_name="tiny.en")  # type: ignore[arg-type]
    segments, _ = model.transcribe(audio, language="en", beam_size=5)  # type: ignore[attr-defined]
    # Exactly faster-whisper's own text. Its word-timestamp mode moves each 30 s window to
    # the last word's end, which changes the text (on the dev set's LJ Speech reading it
    # lost a 13-word phrase); the words are timed afterwards instead.
    assert [s.text for s in transcript.segments] == [
        s.text.strip() for s in segments if s.text.strip()
    ]
    assert len(transcript.segments) >= 3  # more than one 30 s window
    words = [w for s in transcript.segments for w in s.words]
    for segment in transcript.segments:
        assert " ".join(w.w for w in segment.words) == segment.text
    starts = [w.t0 for w in words]
    assert starts == sorted(starts)
    assert all(w.t0 <= w.t1 <= transcript.duration for w in words)
    # Every sentence's last word is timed where it was spoken.
    for clip in turns.clips:
        assert min(abs(w.t1 - clip.end) for w in words) <= 0.5, clip.text
