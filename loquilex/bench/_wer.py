"""Word error rate with the normalisation ASR evaluations use.

Case, punctuation and number spelling are normalised before comparing: Whisper writes
"42" where espeak-ng said "forty-two", and that is not an error a reader would notice.
"""

from __future__ import annotations

from dataclasses import dataclass

from loquilex._normalize import normalize_text, number_to_words

__all__ = ["WerCounts", "normalize_text", "number_to_words", "wer_counts", "word_error_rate"]


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
