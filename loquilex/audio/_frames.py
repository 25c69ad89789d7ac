"""The frame type that flows from audio sources into the streaming ASR."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SAMPLE_RATE", "AudioFrame"]

#: Everything downstream of the sources is 16 kHz mono float32 in [-1, 1].
SAMPLE_RATE = 16_000


@dataclass(frozen=True, slots=True)
class AudioFrame:
    """A run of samples and its position on the stream's audio clock.

    Attributes:
      samples: mono float32 samples in [-1, 1].
      sample_rate: samples per second of ``samples`` (16 000 after conversion).
      start: seconds on the stream's audio clock of the first sample (0 = stream start).
    """

    samples: npt.NDArray[np.float32]
    sample_rate: int = SAMPLE_RATE
    start: float = 0.0

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def end(self) -> float:
        return self.start + self.duration
