"""Diarizer: who spoke each final of one stream, decided as the finals come.

For each final the pipeline asks :meth:`attribute` (blocking: run it off the event loop)
who said the audio between two times. Its voice is embedded (at most ``_MAX_WINDOWS``
windows, spread evenly) and assigned online; nothing later in the stream is looked at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loquilex.speakers._cluster import ClusterSettings, OnlineSpeakers, _unit, speaker_label
from loquilex.speakers._encoder import SAMPLE_RATE, Embedding, VoiceEncoder

__all__ = ["Attribution", "Diarizer"]

#: At most this many 1.6 s windows per final, spread evenly: enough to know a voice, and
#: each costs ~25 ms of a final's latency (measured: 3 windows tell the dev set's voices
#: apart as well as 8).
_MAX_WINDOWS = 3
#: How much more like its own voice than the other each end of a final must be to split it.
_MARGIN = 0.08
#: Windows probed between the two voices to place a change inside a final.
_PROBES = 3


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who said a final. With ``change_at_s`` (seconds from the audio's start) the voice
    changed inside it: ``speaker_id`` until then, ``speaker_after`` from then on."""

    speaker_id: str
    similarity: float
    new_speaker: bool
    speech_s: float
    change_at_s: float | None = None
    speaker_after: str | None = None


class Diarizer:
    """One per stream; shares the (read-only) encoder with every other stream."""

    def __init__(self, encoder: VoiceEncoder, settings: ClusterSettings | None = None) -> None:
        self.encoder = encoder
        self.speakers = OnlineSpeakers(settings)
        self.compute_s = 0.0
        self.attributed = 0

    def attribute(self, audio: npt.NDArray[np.float32]) -> Attribution | None:
        """Who said ``audio`` (one final's); None when there is too little of it."""
        if audio.size < SAMPLE_RATE // 10:
            return None
        began = time.thread_time()
        embedding = self.encoder.embed(audio, max_windows=_MAX_WINDOWS)
        change = self._change(embedding)
        if change is not None:
            change = self._refine(audio, embedding, *change)
        self.attributed += 1
        if change is not None:
            split, at_s = change
            before = _unit(embedding.windows[:split].mean(axis=0))
            after = _unit(embedding.windows[split:].mean(axis=0))
            first = self.speakers.assign(before, at_s)
            second = self.speakers.assign(after, embedding.speech_s - at_s)
            self.compute_s += time.thread_time() - began
            return Attribution(
                speaker_label(first.speaker),
                round(first.similarity, 3),
                first.new,
                round(embedding.speech_s, 3),
                round(at_s, 3),
                speaker_label(second.speaker),
            )
        assignment = self.speakers.assign(embedding.vector, embedding.speech_s)
        self.compute_s += time.thread_time() - began
        return Attribution(
            speaker_label(assignment.speaker),
            round(assignment.similarity, 3),
            assignment.new,
            round(embedding.speech_s, 3),
        )

    def _change(self, embedding: Embedding) -> tuple[int, float] | None:
        """(index of the first window of the second voice, time of the change) when the
        final's first windows are one known voice and its last another, both clearly."""
        if len(embedding.windows) < 2 or self.speakers.count < 2:
            return None
        threshold = self.speakers.settings.threshold
        sims = np.stack([self.speakers.similarities(w) for w in embedding.windows])
        labels = sims.argmax(axis=1)
        best = sims.max(axis=1)
        first, last = int(labels[0]), int(labels[-1])
        if first == last or best[0] < threshold or best[-1] < threshold:
            return None
        # Each end must be clearly its own voice, not a near tie between the two.
        if sims[0, first] - sims[0, last] < _MARGIN or sims[-1, last] - sims[-1, first] < _MARGIN:
            return None
        split = int(np.argmax(labels == last))
        if split == 0 or not (labels[split:] == last).all():
            return None
        at_s = float(embedding.centres[split - 1] + embedding.centres[split]) / 2
        return split, at_s

    def _refine(
        self, audio: npt.NDArray[np.float32], embedding: Embedding, split: int, at_s: float
    ) -> tuple[int, float]:
        """Place the change more finely: windows centred between the last window of the
        first voice and the first of the second, each given to the nearer of the two."""
        lo, hi = embedding.centres[split - 1], embedding.centres[split]
        probes = np.linspace(lo, hi, _PROBES + 2)[1:-1]
        sims = (
            self.encoder.embed_at(audio, probes)
            @ np.stack(
                [
                    self.speakers.centroid(self._label(embedding.windows[0])),
                    self.speakers.centroid(self._label(embedding.windows[-1])),
                ]
            ).T
        )
        second = sims[:, 1] > sims[:, 0]
        times = np.concatenate([[lo], probes, [hi]])
        flags = np.concatenate([[False], second, [True]])
        turn = int(np.argmax(flags))  # the first probe (or end) that is the second voice
        return split, float(times[turn - 1] + times[turn]) / 2

    def _label(self, window: npt.NDArray[np.float32]) -> int:
        return int(np.argmax(self.speakers.similarities(window)))

    def stats(self) -> dict[str, float | int]:
        return {
            "speakers": self.speakers.count,
            "diarize_s": round(self.compute_s, 3),
            "attributed": self.attributed,
        }
