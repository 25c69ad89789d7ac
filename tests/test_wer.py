"""Word error rate and its normalisation."""

from __future__ import annotations

import pytest

from loquilex.bench import normalize_text, word_error_rate
from loquilex.bench._wer import number_to_words


def test_normalisation() -> None:
    assert normalize_text("Hello, World! It's 42%.") == [
        "hello",
        "world",
        "its",
        "forty",
        "two",
        "percent",
    ]
    assert normalize_text("Forty-two") == ["forty", "two"]
    assert normalize_text("1,500 people") == ["one", "thousand", "five", "hundred", "people"]
    assert number_to_words(2026) == "two thousand twenty six"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("went down at 1115", "went down at eleven fifteen"),
        ("in 1995", "in nineteen ninety five"),
        ("in 1905", "in nineteen oh five"),
        ("by 1900", "by nineteen hundred"),
        ("in 2026", "in two thousand twenty six"),
        ("1,115 people", "one thousand one hundred fifteen people"),
        ("1115.5", "one thousand one hundred fifteen point five"),
    ],
)
def test_four_digits_without_a_comma_read_as_a_year_or_a_time(text: str, words: str) -> None:
    assert normalize_text(text) == words.split()


@pytest.mark.parametrize(
    ("ref", "hyp", "wer"),
    [
        ("the cat sat", "the cat sat", 0.0),
        ("the cat sat", "The cat, sat.", 0.0),
        ("the cat sat", "the bat sat", 1 / 3),
        ("the cat sat", "the cat", 1 / 3),
        ("the cat sat", "the cat sat down today", 2 / 3),
        ("meet at 10", "meet at ten", 0.0),
        ("", "", 0.0),
        ("", "noise", 1.0),
    ],
)
def test_word_error_rate(ref: str, hyp: str, wer: float) -> None:
    assert word_error_rate(ref, hyp) == pytest.approx(wer)


def test_counts_each_kind_of_error() -> None:
    from loquilex.bench import wer_counts

    counts = wer_counts("the cat sat on the mat", "a cat sat on mat")
    assert (counts.substitutions, counts.deletions, counts.insertions) == (1, 1, 0)
    assert counts.reference_words == 6
    assert counts.wer == 2 / 6
    assert wer_counts("the cat sat", "the cat sat down").insertions == 1
    dropped = wer_counts("one two three four five six", "one six")
    assert dropped.deletions == 4 and dropped.substitutions == 0 and dropped.insertions == 0
    assert dropped.as_dict()["deletion_rate"] == round(4 / 6, 4)
    assert wer_counts("", "").wer == 0.0
    assert wer_counts("", "hello").insertions == 1
