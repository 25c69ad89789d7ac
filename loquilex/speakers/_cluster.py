"""Who is this voice: online assignment to adapting centroids, and a whole-file pass.

Online (live): each new stretch of speech joins the most similar known speaker when the
cosine similarity of its embedding to that speaker's centroid reaches ``threshold``; else it
opens a new speaker, up to ``max_speakers`` (then it joins the nearest). Centroids are
duration-weighted sums with a decay, so a voice that drifts (a cold getting worse, a new
microphone) is followed. Short stretches say little about a voice: below ``min_speech_s``
one never opens a speaker nor moves a centroid, and stays with whoever spoke last unless it
is clearly more like another known speaker (an interjection).

Offline (``transcribe``): average-linkage agglomerative clustering of every stretch at once,
which sees the whole conversation before deciding, then ids in order of first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "Assignment",
    "ClusterSettings",
    "OnlineSpeakers",
    "cluster_offline",
    "speaker_label",
    "speaker_name",
]

Vector = npt.NDArray[np.float32]


def speaker_label(index: int) -> str:
    return f"spk-{index}"


def speaker_name(speaker_id: str) -> str:
    """How a speaker id is shown to people: ``spk-0`` → ``Speaker 1``."""
    prefix, _, number = speaker_id.partition("-")
    if prefix == "spk" and number.isdigit():
        return f"Speaker {int(number) + 1}"
    return speaker_id


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    """Tuned on real voices (same speaker ≥ 0.77 cosine, different ≤ 0.65 per sentence)."""

    threshold: float = 0.72
    max_speakers: int = 8
    min_speech_s: float = 1.0
    #: Added to the similarity of whoever spoke last: turns are runs.
    continuity: float = 0.03
    #: A stretch too short to trust goes to a known speaker other than the last one only
    #: when it sounds this much more like them (an interjection: "Good.", "Perfect.").
    short_margin: float = 0.05
    #: ... and at least this like them at all.
    short_floor: float = 0.5
    #: Weight left on a centroid's past per second of new speech (adaptation).
    decay_per_s: float = 0.98


@dataclass(frozen=True, slots=True)
class Assignment:
    speaker: int
    similarity: float
    new: bool


@dataclass(slots=True)
class _Centroid:
    total: npt.NDArray[np.float64]
    seconds: float
    unit: Vector = field(init=False)

    def __post_init__(self) -> None:
        self.unit = _unit(self.total)

    def add(self, vector: Vector, seconds: float, decay_per_s: float) -> None:
        keep = decay_per_s**seconds
        self.total = self.total * keep + vector.astype(np.float64) * seconds
        self.seconds = self.seconds * keep + seconds
        self.unit = _unit(self.total)


def _unit(v: npt.NDArray[np.floating]) -> Vector:
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


class OnlineSpeakers:
    """Assigns each stretch as it arrives; no look-ahead."""

    def __init__(self, settings: ClusterSettings | None = None) -> None:
        self.settings = settings or ClusterSettings()
        self._centroids: list[_Centroid] = []
        self.last: int | None = None

    @property
    def count(self) -> int:
        return len(self._centroids)

    def centroid(self, speaker: int) -> Vector:
        """A known speaker's voice (unit vector)."""
        return self._centroids[speaker].unit

    def similarities(self, vector: Vector) -> npt.NDArray[np.float32]:
        if not self._centroids:
            return np.zeros(0, np.float32)
        return np.array([float(c.unit @ vector) for c in self._centroids], np.float32)

    def nearest(self, vector: Vector) -> int | None:
        """The known speaker ``vector`` sounds like, judged as :meth:`assign` judges (the
        last speaker favoured by ``continuity``); None when it is like nobody. Changes
        nothing: for a tentative answer before the stretch is over."""
        scored = self._scored(self.similarities(vector))
        if scored.size == 0:
            return None
        best = int(np.argmax(scored))
        return best if scored[best] >= self.settings.threshold else None

    def _scored(self, sims: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Similarities with whoever spoke last favoured by ``continuity``."""
        scored = sims.copy()
        if self.last is not None and scored.size:
            scored[self.last] += self.settings.continuity
        return scored

    def assign(self, vector: Vector, speech_s: float) -> Assignment:
        cfg = self.settings
        sims = self.similarities(vector)
        reliable = speech_s >= cfg.min_speech_s
        if sims.size == 0:
            return self._open(vector, speech_s, 1.0)
        scored = self._scored(sims)
        best = int(np.argmax(scored))
        if scored[best] < cfg.threshold and reliable and self.count < cfg.max_speakers:
            return self._open(vector, speech_s, float(sims[best]))
        if not reliable and self.last is not None and scored[best] < cfg.threshold:
            # Too short to be sure of anyone: the turn goes on, unless the stretch is
            # clearly more like another known speaker (someone else's "Good.").
            rival = int(np.argmax(sims))
            clearer = sims[rival] - sims[self.last] >= cfg.short_margin
            best = rival if clearer and sims[rival] >= cfg.short_floor else self.last
        if reliable:
            self._centroids[best].add(vector, speech_s, cfg.decay_per_s)
        self.last = best
        return Assignment(best, float(sims[best]), False)

    def _open(self, vector: Vector, speech_s: float, similarity: float) -> Assignment:
        self._centroids.append(
            _Centroid(vector.astype(np.float64) * max(speech_s, 0.1), max(speech_s, 0.1))
        )
        self.last = len(self._centroids) - 1
        return Assignment(self.last, similarity, True)


def cluster_offline(
    vectors: Sequence[Vector], seconds: Sequence[float], settings: ClusterSettings | None = None
) -> list[int]:
    """Speaker index per stretch, numbered in order of first appearance."""
    cfg = settings or ClusterSettings()
    n = len(vectors)
    if n == 0:
        return []
    reliable = [i for i in range(n) if seconds[i] >= cfg.min_speech_s] or list(range(n))
    clusters: list[list[int]] = [[i] for i in reliable]
    matrix = np.stack([vectors[i] for i in reliable]).astype(np.float64)
    sims = matrix @ matrix.T
    np.fill_diagonal(sims, -np.inf)
    sizes = np.ones(len(clusters))
    alive = np.ones(len(clusters), bool)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :], sims, -np.inf)
        a, b = np.unravel_index(int(np.argmax(masked)), masked.shape)
        if masked[a, b] < cfg.threshold and alive.sum() <= cfg.max_speakers:
            break
        # Average linkage (Lance-Williams): the merged cluster's mean similarity to each other.
        merged = (sizes[a] * sims[a] + sizes[b] * sims[b]) / (sizes[a] + sizes[b])
        sims[a], sims[:, a] = merged, merged
        sims[a, a] = -np.inf
        sizes[a] += sizes[b]
        alive[b] = False
        clusters[a] += clusters[b]
    clusters = [c for c, keep in zip(clusters, alive, strict=True) if keep]
    centroids = [_unit(np.mean([vectors[i] for i in c], axis=0)) for c in clusters]
    labels = [0] * n
    for index, members in enumerate(clusters):
        for i in members:
            labels[i] = index
    for i in range(n):
        if i not in reliable:
            labels[i] = int(np.argmax([float(c @ vectors[i]) for c in centroids]))
    order: dict[int, int] = {}
    for label in labels:
        order.setdefault(label, len(order))
    return [order[label] for label in labels]
