"""Words as a reader compares them: lower case, no punctuation, numbers spelled out.

Whisper writes "42" where a speaker said "forty-two", and one decode writes "300" where the
next writes "three hundred". Word error rates (``loquilex.bench``) and the streaming
engine's comparisons of one decode with the next both read words through this.
"""

from __future__ import annotations

import re

__all__ = ["normalize_text", "number_to_words"]

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
