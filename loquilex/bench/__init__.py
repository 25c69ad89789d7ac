"""Measurement: word error rate, synthetic speech with known timings, streaming benchmarks."""

from loquilex.bench._speech import SpeechClip, synthesize
from loquilex.bench._wer import normalize_text, word_error_rate

__all__ = ["SpeechClip", "normalize_text", "synthesize", "word_error_rate"]
