"""Measurement: word error rate, speech with known timings, the dev set, benchmarks."""

from loquilex.bench._speech import SpeechClip, SpokenPiece, compose, synthesize
from loquilex.bench._wer import WerCounts, normalize_text, wer_counts, word_error_rate

__all__ = [
    "SpeechClip",
    "SpokenPiece",
    "WerCounts",
    "compose",
    "normalize_text",
    "synthesize",
    "wer_counts",
    "word_error_rate",
]
