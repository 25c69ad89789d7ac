"""Turn faster-whisper's word pieces into display words."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loquilex.types import Word

__all__ = ["merge_word_pieces"]


def merge_word_pieces(pieces: Iterable[Any], offset: float = 0.0) -> list[Word]:
    """Whisper marks a new word with a leading space; a piece without one ("-fark" after
    " round") continues the previous word, so they are joined into one display word.
    ``offset`` shifts times onto the stream clock."""
    words: list[Word] = []
    for piece in pieces:
        raw: str = piece.word
        text = raw.strip()
        if not text:
            continue
        t0 = round(float(piece.start) + offset, 3)
        t1 = round(float(piece.end) + offset, 3)
        conf = float(piece.probability)
        if words and not raw[:1].isspace():
            prev = words[-1]
            words[-1] = Word(
                prev.w + text, prev.t0, max(prev.t1, t1), round(min(prev.conf, conf), 4)
            )
        else:
            words.append(Word(text, t0, t1, round(conf, 4)))
    return words
