"""How well a stream's finals were attributed to speakers, against a recording's timing.

Each final word gets the true speaker of the sentence it lies in (by its midpoint; a word in
a pause goes to the nearest sentence). Cluster ids are mapped to true speakers by the
assignment that makes most words right (every permutation: speakers are few), and a cluster
left unmapped counts as wrong. A true turn change is found when a predicted change (the
first word of a final whose speaker differs from the previous final's) lies within
``tolerance_s`` of it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loquilex.bench._speech import SpeechClip
from loquilex.protocol import Envelope

__all__ = ["SpeakerScore", "score_speakers"]


@dataclass(frozen=True, slots=True)
class SpeakerScore:
    words: int
    correct: int
    true_speakers: int
    found_speakers: int
    turn_changes: int
    changes_found: int
    change_error_s: tuple[float, ...]
    mapping: dict[str, str]

    @property
    def accuracy(self) -> float:
        return self.correct / self.words if self.words else 0.0

    def as_dict(self) -> dict[str, Any]:
        errors = sorted(self.change_error_s)
        return {
            "speaker_words": self.words,
            "speaker_accuracy": round(self.accuracy, 4),
            "true_speakers": self.true_speakers,
            "found_speakers": self.found_speakers,
            "turn_changes": self.turn_changes,
            "turn_changes_found": self.changes_found,
            "turn_change_error_p50_s": round(errors[len(errors) // 2], 3) if errors else None,
            "speaker_mapping": self.mapping,
        }


def _true_speaker(t0: float, t1: float, clips: Sequence[SpeechClip]) -> str | None:
    mid = (t0 + t1) / 2
    best = min(
        clips,
        key=lambda c: 0.0 if c.start <= mid <= c.end else min(abs(mid - c.start), abs(mid - c.end)),
    )
    return best.speaker


def score_speakers(
    finals: Sequence[Envelope], clips: Sequence[SpeechClip], tolerance_s: float = 0.5
) -> SpeakerScore:
    pairs: list[tuple[str, str]] = []  # (predicted, true) per word
    changes_predicted: list[float] = []
    previous: str | None = None
    for envelope in finals:
        segment = envelope.payload["segment"]
        speaker = segment.get("speaker_id") or "none"
        words = [w for w in segment["words"] if w["w"].strip()]
        if not words:
            continue
        if previous is not None and speaker != previous:
            changes_predicted.append(words[0]["t0"])
        previous = speaker
        for w in words:
            truth = _true_speaker(w["t0"], w["t1"], clips)
            if truth is not None:
                pairs.append((speaker, truth))
    truths = sorted({c.speaker for c in clips if c.speaker is not None})
    predicted = sorted({p for p, _ in pairs})
    counts = Counter(pairs)
    best_mapping: dict[str, str] = {}
    best_correct = -1
    # Every injective mapping of predicted clusters onto true speakers (few of each).
    smaller = min(len(predicted), len(truths))
    for chosen in itertools.permutations(predicted, smaller):
        for targets in itertools.permutations(truths, smaller):
            mapping = dict(zip(chosen, targets, strict=True))
            correct = sum(n for (p, t), n in counts.items() if mapping.get(p) == t)
            if correct > best_correct:
                best_correct, best_mapping = correct, mapping
    true_changes = [b.start for a, b in itertools.pairwise(clips) if a.speaker != b.speaker]
    errors = []
    for change in true_changes:
        nearest = min((abs(p - change) for p in changes_predicted), default=None)
        if nearest is not None and nearest <= tolerance_s:
            errors.append(nearest)
    return SpeakerScore(
        words=len(pairs),
        correct=max(best_correct, 0),
        true_speakers=len(truths),
        found_speakers=len(predicted),
        turn_changes=len(true_changes),
        changes_found=len(errors),
        change_error_s=tuple(errors),
        mapping=best_mapping,
    )
