"""Diarizer: who spoke each final of one stream, decided as the finals come.

For each final the pipeline asks :meth:`attribute` (blocking: run it off the event loop)
who said the audio between two times. Its voice is embedded (at most ``_MAX_WINDOWS``
windows, spread evenly), its pitch measured, and both assigned online; nothing later in
the stream is looked at.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from loquilex.audio import measure_pitch
from loquilex.speakers._cluster import (
    ClusterSettings,
    OnlineSpeakers,
    Vector,
    _unit,
    speaker_label,
)
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
        self.tentative_lookups = 0

    def attribute(self, audio: npt.NDArray[np.float32]) -> Attribution | None:
        """Who said ``audio`` (one final's); None when there is too little of it."""
        if audio.size < SAMPLE_RATE // 10:
            return None
        began = time.thread_time()
        embedding = self.encoder.embed(audio, max_windows=_MAX_WINDOWS)
        change = self._change(embedding)
        self.attributed += 1
        if change is not None:
            split, voice, other, new = change
            at_s = self._refine(audio, embedding, split, (voice, other))
            # A new voice needs as much speech as opening a speaker does.
            if new and embedding.speech_s - at_s < self.speakers.settings.min_speech_s:
                change = None
        if change is not None:
            before = _unit(embedding.windows[:split].mean(axis=0))
            after = _unit(embedding.windows[split:].mean(axis=0))
            cut = int(at_s * SAMPLE_RATE)
            first = self.speakers.assign(before, at_s, measure_pitch(audio[:cut]))
            second = self.speakers.assign(
                after, embedding.speech_s - at_s, measure_pitch(audio[cut:])
            )
            self.compute_s += time.thread_time() - began
            split_here = second.speaker != first.speaker  # else no room for another: one voice
            return Attribution(
                speaker_label(first.speaker),
                round(first.similarity, 3),
                first.new,
                round(embedding.speech_s, 3),
                round(at_s, 3) if split_here else None,
                speaker_label(second.speaker) if split_here else None,
            )
        assignment = self.speakers.assign(
            embedding.vector, embedding.speech_s, measure_pitch(audio)
        )
        self.compute_s += time.thread_time() - began
        return Attribution(
            speaker_label(assignment.speaker),
            round(assignment.similarity, 3),
            assignment.new,
            round(embedding.speech_s, 3),
        )

    def tentative(self, audio: npt.NDArray[np.float32]) -> str | None:
        """Who is probably saying ``audio`` (the start of a sentence still being spoken),
        from one encoder window, among the speakers known so far; None when the voice is
        like nobody's yet. Changes nothing: the final decides."""
        if audio.size < SAMPLE_RATE // 10 or self.speakers.count == 0:
            return None
        began = time.thread_time()
        speaker = self.speakers.nearest(
            self.encoder.embed(audio, max_windows=1).vector, measure_pitch(audio)
        )
        self.compute_s += time.thread_time() - began
        self.tentative_lookups += 1
        return speaker_label(speaker) if speaker is not None else None

    def _change(self, embedding: Embedding) -> tuple[int, Vector, Vector, bool] | None:
        """Where the voice changes inside a final, if it clearly does: (index of the first
        window of the second voice, the two voices to tell apart, whether the second is new);
        :meth:`_refine` then places the change in time.

        The final's first windows must be one known voice; its last windows either another
        known voice, or a voice unlike everyone heard so far (someone speaking for the first
        time, right after the last speaker), for at least ``min_speech_s``.
        """
        if len(embedding.windows) < 2 or self.speakers.count == 0:
            return None
        cfg = self.speakers.settings
        sims = np.stack([self.speakers.similarities(w) for w in embedding.windows])
        labels = sims.argmax(axis=1)
        best = sims.max(axis=1)
        first, last = int(labels[0]), int(labels[-1])
        if best[0] < cfg.threshold:
            return None
        if first != last and best[-1] >= cfg.threshold:
            # Each end must be clearly its own voice, not a near tie between the two.
            near_tie = min(sims[0, first] - sims[0, last], sims[-1, last] - sims[-1, first])
            if near_tie < _MARGIN:
                return None
            split = int(np.argmax(labels == last))
            if split == 0 or not (labels[split:] == last).all():
                return None
            second, new = self.speakers.centroid(last), False
        else:
            if self.speakers.count >= cfg.max_speakers:
                return None
            # A new voice: unlike every known one, and unlike the final's own beginning.
            unlike = (best < cfg.threshold - _MARGIN) & (
                embedding.windows @ embedding.windows[0] < cfg.threshold - _MARGIN
            )
            if not unlike[-1]:
                return None
            split = len(unlike) - int(np.argmin(unlike[::-1])) if not unlike.all() else 0
            if split == 0:
                return None
            second, new = _unit(embedding.windows[split:].mean(axis=0)), True
        return split, self.speakers.centroid(first), second, new

    def _refine(
        self,
        audio: npt.NDArray[np.float32],
        embedding: Embedding,
        split: int,
        voices: tuple[Vector, Vector],
    ) -> float:
        """Place the change more finely: windows centred between the last window of the
        first voice and the first of the second, each given to the nearer of the two."""
        lo, hi = embedding.centres[split - 1], embedding.centres[split]
        probes = np.linspace(lo, hi, _PROBES + 2)[1:-1]
        sims = self.encoder.embed_at(audio, probes) @ np.stack(voices).T
        second = sims[:, 1] > sims[:, 0]
        times = np.concatenate([[lo], probes, [hi]])
        flags = np.concatenate([[False], second, [True]])
        turn = int(np.argmax(flags))  # the first probe (or end) that is the second voice
        return float(times[turn - 1] + times[turn]) / 2

    def stats(self) -> dict[str, float | int]:
        return {
            "speakers": self.speakers.count,
            "diarize_s": round(self.compute_s, 3),
            "attributed": self.attributed,
            "tentative_lookups": self.tentative_lookups,
        }
