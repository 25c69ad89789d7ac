"""Word error rate with the normalisation ASR evaluations use.

Case, punctuation and number spelling are normalised before comparing: Whisper writes
"42" where espeak-ng said "forty-two", and that is not an error a reader would notice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["WerCounts", "normalize_text", "number_to_words", "wer_counts", "word_error_rate"]

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


def _in_pairs(digits: str) -> str:
    """A bare four-digit number as years and clock times are said: "1115" → "eleven
    fifteen", "1905" → "nineteen oh five", "1900" → "nineteen hundred"."""
    head, tail = int(digits[:2]), int(digits[2:])
    if tail == 0:
        return f"{number_to_words(head)} hundred"
    return f"{number_to_words(head)} {'oh ' if tail < 10 else ''}{number_to_words(tail)}"


def _spell_number(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = text.replace(",", "")
    if "." in digits:
        whole, frac = digits.split(".", 1)
        return f"{number_to_words(int(whole))} point {' '.join(_ONES[int(d)] for d in frac)}"
    if len(text) == 4 and text[0] != "0" and text[1] != "0":
        # Whisper writes a quantity with a comma ("1,115"); without one, four digits are
        # a year or a time. "2026" has no such reading and stays "two thousand twenty six".
        return _in_pairs(text)
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


@dataclass(frozen=True, slots=True)
class WerCounts:
    """The edit operations of one alignment of a hypothesis against its reference."""

    substitutions: int
    deletions: int
    insertions: int
    reference_words: int

    @property
    def errors(self) -> int:
        return self.substitutions + self.deletions + self.insertions

    @property
    def wer(self) -> float:
        if not self.reference_words:
            return float(self.insertions > 0)
        return self.errors / self.reference_words

    def as_dict(self) -> dict[str, float | int]:
        """WER and each kind of error as a share of the reference words, plus counts."""
        n = max(self.reference_words, 1)
        return {
            "wer": round(self.wer, 4),
            "substitution_rate": round(self.substitutions / n, 4),
            "deletion_rate": round(self.deletions / n, 4),
            "insertion_rate": round(self.insertions / n, 4),
            "substitutions": self.substitutions,
            "deletions": self.deletions,
            "insertions": self.insertions,
            "reference_words": self.reference_words,
        }


def wer_counts(reference: str, hypothesis: str) -> WerCounts:
    """Align after normalisation (Levenshtein over words) and count each kind of error."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    # cost[j] and ops[j] hold the best (edits, (S, D, I)) for ref[:i] against hyp[:j].
    previous = [(j, (0, 0, j)) for j in range(len(hyp) + 1)]
    for i, r in enumerate(ref, start=1):
        current = [(i, (0, i, 0))]
        for j, h in enumerate(hyp, start=1):
            cost, (s, d, n) = previous[j - 1]
            best = (cost + (r != h), (s + (r != h), d, n))
            cost, (s, d, n) = previous[j]
            if cost + 1 < best[0]:
                best = (cost + 1, (s, d + 1, n))
            cost, (s, d, n) = current[j - 1]
            if cost + 1 < best[0]:
                best = (cost + 1, (s, d, n + 1))
            current.append(best)
        previous = current
    s, d, n = previous[-1][1]
    return WerCounts(s, d, n, len(ref))


def word_error_rate(reference: str, hypothesis: str) -> float:
    """(substitutions + deletions + insertions) / reference words, after normalisation."""
    return wer_counts(reference, hypothesis).wer
