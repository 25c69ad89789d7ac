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

from loquilex.speakers._cluster import ClusterSettings, OnlineSpeakers, speaker_label
from loquilex.speakers._encoder import SAMPLE_RATE, VoiceEncoder

__all__ = ["Attribution", "Diarizer"]

#: At most this many 1.6 s windows per final, spread evenly: enough to know a voice, and
#: each costs ~25 ms of a final's latency (measured: 3 windows tell the dev set's voices
#: apart as well as 8).
_MAX_WINDOWS = 3


@dataclass(frozen=True, slots=True)
class Attribution:
    speaker_id: str
    similarity: float
    new_speaker: bool
    speech_s: float


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
        duration = len(audio) / SAMPLE_RATE
        rate = min(1.3, (_MAX_WINDOWS - 1) / max(duration - 1.6, 1e-3))
        embedding = self.encoder.embed(audio, windows_per_s=rate)
        assignment = self.speakers.assign(embedding.vector, embedding.speech_s)
        self.compute_s += time.thread_time() - began
        self.attributed += 1
        return Attribution(
            speaker_label(assignment.speaker),
            round(assignment.similarity, 3),
            assignment.new,
            round(embedding.speech_s, 3),
        )

    def stats(self) -> dict[str, float | int]:
        return {
            "speakers": self.speakers.count,
            "diarize_s": round(self.compute_s, 3),
            "attributed": self.attributed,
        }
