"""Whole-file transcription with faster-whisper (word timestamps).

No VAD filter: faster-whisper's Silero pre-filter drops quiet and hoarse speech (on real
recordings it cost more words than it saved), and Whisper's own no-speech and
log-probability gates already keep silence out of the text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from loquilex.asr._words import merge_word_pieces
from loquilex.audio import SAMPLE_RATE
from loquilex.export import Transcript
from loquilex.types import Segment

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = ["transcribe_array"]

logger = logging.getLogger(__name__)

#: Called with (seconds decoded so far, total seconds).
ProgressCallback = Callable[[float, float], None]


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
        word_timestamps=True,
        initial_prompt=prompt or None,
        **options,
    )
    segments: list[Segment] = []
    details: list[dict[str, object]] = []
    # Decoding happens while this generator is iterated.
    for raw in segments_iter:
        text = raw.text.strip()
        if not text:
            continue
        words = tuple(merge_word_pieces(raw.words or ()))
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
