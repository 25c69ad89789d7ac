"""Core value types shared by recognition, aggregation, sessions and export."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Segment", "Word"]


@dataclass(frozen=True, slots=True)
class Word:
    """A word with its audio times (seconds) and confidence (0..1)."""

    w: str
    t0: float
    t1: float
    conf: float


@dataclass(frozen=True, slots=True)
class Segment:
    """A finalized stretch of speech."""

    id: int
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    speaker_id: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    #: The segment in the transcript's ``translation_lang`` (None when not translated).
    translation: str | None = None
