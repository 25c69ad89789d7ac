"""Word error rate with the normalisation ASR evaluations use.

Case, punctuation and number spelling are normalised before comparing: Whisper writes
"42" where espeak-ng said "forty-two", and that is not an error a reader would notice.
"""

from __future__ import annotations

import re

__all__ = ["normalize_text", "number_to_words", "word_error_rate"]

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((1_000_000_000, "billion"), (1_000_000, "million"), (1000, "thousand"), (100, "hundred"))


def number_to_words(n: int) -> str:
    """0 ≤ n < 10**12 in words, without "and" (how Whisper and espeak agree best)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    for value, name in _SCALES:
        if n >= value:
            head, rest = divmod(n, value)
            words = f"{number_to_words(head)} {name}"
            return words + (f" {number_to_words(rest)}" if rest else "")
    raise AssertionError("unreachable")


def _spell_number(match: re.Match[str]) -> str:
    digits = match.group(0).replace(",", "")
    if "." in digits:
        whole, frac = digits.split(".", 1)
        return f"{number_to_words(int(whole))} point {' '.join(_ONES[int(d)] for d in frac)}"
    return number_to_words(int(digits)) if len(digits) <= 12 else digits


def normalize_text(text: str) -> list[str]:
    """Lower-case words with punctuation dropped and numbers spelled out."""
    text = text.lower()
    text = re.sub(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?", _spell_number, text)
    text = text.replace("%", " percent")
    text = re.sub(r"[-‐–—/]", " ", text)
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    text = text.replace("'", "")
    return text.split()


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalisation."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, start=1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)
