"""The sentence pairs the tiny test translation model is trained on (tests/fixtures/mt)."""

from __future__ import annotations

from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "mt"


def read_corpus() -> list[tuple[str, str]]:
    """``corpus.tsv`` as (English, Chinese) pairs; ``#`` lines are comments."""
    pairs = []
    for line in (FIXTURE / "corpus.tsv").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            en, zh = line.split("\t")
            pairs.append((en, zh))
    return pairs
