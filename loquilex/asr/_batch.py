"""Whole-file transcription with faster-whisper, words timed afterwards.

faster-whisper is called with its defaults (beam 5, conditioning on previous text) and
without its VAD filter: the Silero pre-filter drops quiet and hoarse speech (on real
recordings it cost more words than it saved), and Whisper's own no-speech and
log-probability gates already keep silence out of the text.

Nor with its ``word_timestamps``: with them it moves each 30 s window to the last word's
end instead of the last timestamp Whisper wrote, and that shifted window loses whole
phrases (13 words on the LJ Speech reading of the dev set). So the text is exactly
faster-whisper's own transcription, and the words of each window's segments are timed
afterwards by the same cross-attention alignment over that window's audio.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loquilex.asr._whisper import WhisperEngine
from loquilex.audio import SAMPLE_RATE
from loquilex.export import Transcript
from loquilex.types import Segment, Word

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = ["transcribe_array"]

logger = logging.getLogger(__name__)

#: Called with (seconds decoded so far, total seconds).
ProgressCallback = Callable[[float, float], None]
#: faster-whisper's ``seek`` counts 10 ms mel frames.
_SEEK_SAMPLES = SAMPLE_RATE // 100
#: Audio kept after a window's last segment when its words are timed.
_TAIL_S = 1.0


def _time_window(
    engine: WhisperEngine, audio: npt.NDArray[np.float32], window: list[Any], floor: float
) -> list[tuple[Any, list[Word]]]:
    """The segments of one decode window (same ``seek``) with their words timed, none
    starting before ``floor`` (where the previous window's words ended: windows overlap)."""
    start = int(window[0].seek) * _SEEK_SAMPLES
    end = round((max(float(raw.end) for raw in window) + _TAIL_S) * SAMPLE_RATE)
    end = min(end, start + 30 * SAMPLE_RATE, len(audio))
    offset = start / SAMPLE_RATE
    groups = [[t for t in raw.tokens if t < engine.eot] for raw in window]
    timed = engine.time_words(audio[start:end], groups) if end > start else [[]] * len(groups)
    out = []
    for raw, words in zip(window, timed, strict=True):
        placed = []
        for w in words:
            t0 = max(round(w.t0 + offset, 3), floor)
            t1 = max(round(w.t1 + offset, 3), t0)
            placed.append(Word(w.text, t0, t1, w.prob))
            floor = t1
        out.append((raw, placed))
    return out


def _timed(
    engine: WhisperEngine, audio: npt.NDArray[np.float32], segments: Iterable[Any]
) -> Iterator[tuple[Any, list[Word]]]:
    """faster-whisper's segments, as they are decoded, each with its timed words."""
    window: list[Any] = []
    floor = 0.0
    for raw in itertools.chain(segments, [None]):  # None: the end, flush the last window
        if window and (raw is None or raw.seek != window[0].seek):
            for timed in _time_window(engine, audio, window, floor):
                floor = max([floor, *(w.t1 for w in timed[1])])
                yield timed
            window = []
        if raw is not None:
            window.append(raw)


def transcribe_array(
    model: WhisperModel,
    audio: npt.NDArray[np.float32],
    *,
    model_name: str,
    beam_size: int = 5,
    language: str | None = "en",
    progress: ProgressCallback | None = None,
    prompt: str | None = None,
    temperature: float | None = None,
    decoder_details: bool = False,
) -> Transcript:
    """Transcribe 16 kHz mono audio into a Transcript. Blocking: call off the event loop.

    ``language`` None detects it (multilingual models); ``prompt`` is Whisper's initial
    prompt; ``temperature`` replaces the fallback schedule with one temperature. With
    ``decoder_details`` the transcript's ``extra["decoder"]`` holds each segment's seek,
    tokens, temperature and compression ratio (what OpenAI's verbose_json shows).
    """
    duration = len(audio) / SAMPLE_RATE
    options: dict[str, object] = {}
    if temperature is not None:
        options["temperature"] = temperature
    segments_iter, info = model.transcribe(
        audio,
        language=language,
        beam_size=beam_size,
        initial_prompt=prompt or None,
        **options,
    )
    engine = WhisperEngine(model, info.language or language or "en")
    segments: list[Segment] = []
    details: list[dict[str, object]] = []
    # Decoding happens while this generator is iterated.
    for raw, timed in _timed(engine, audio, segments_iter):
        text = raw.text.strip()
        if not text:
            continue
        words = tuple(timed)
        segments.append(
            Segment(
                id=len(segments),
                start=round(float(raw.start), 3),
                end=round(float(raw.end), 3),
                text=text,
                words=words,
                avg_logprob=round(float(raw.avg_logprob), 4),
                no_speech_prob=round(float(raw.no_speech_prob), 4),
            )
        )
        if decoder_details:
            details.append(
                {
                    "seek": int(raw.seek),
                    "tokens": [int(t) for t in raw.tokens],
                    "temperature": float(raw.temperature or 0.0),
                    "compression_ratio": round(float(raw.compression_ratio), 4),
                }
            )
        if progress is not None:
            progress(float(raw.end), duration)
    logger.debug("transcribed %.1f s into %d segments", duration, len(segments))
    return Transcript(
        segments=tuple(segments),
        model=model_name,
        language=info.language or language or "en",
        duration=round(duration, 3),
        extra={"decoder": details} if decoder_details else {},
    )
