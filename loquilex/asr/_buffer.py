"""A growable sample buffer addressed by absolute sample index on the stream clock."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["AudioBuffer"]


class AudioBuffer:
    """Appends are amortised O(1); ``trim`` forgets old samples so memory stays bounded."""

    def __init__(self, capacity: int = 16_000 * 16) -> None:
        self._data = np.zeros(capacity, dtype=np.float32)
        self._offset = 0  # index in _data of sample `start`
        self._len = 0
        self.start = 0  # absolute index of the oldest kept sample

    @property
    def end(self) -> int:
        """Absolute index one past the newest sample."""
        return self.start + self._len

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def append(self, samples: npt.NDArray[np.float32]) -> None:
        n = len(samples)
        if self._offset + self._len + n > len(self._data):
            keep = self._data[self._offset : self._offset + self._len]
            capacity = len(self._data)
            while self._len + n > capacity // 2:
                capacity *= 2
            if capacity != len(self._data):
                self._data = np.zeros(capacity, dtype=np.float32)
            self._data[: self._len] = keep
            self._offset = 0
        self._data[self._offset + self._len : self._offset + self._len + n] = samples
        self._len += n

    def view(self, start: int, end: int) -> npt.NDArray[np.float32]:
        """Samples [start, end) clipped to what is kept; a copy-free view."""
        start = max(start, self.start)
        end = min(end, self.end)
        if end <= start:
            return self._data[:0]
        return self._data[self._offset + start - self.start : self._offset + end - self.start]

    def trim(self, before: int) -> None:
        """Forget every sample before absolute index ``before``."""
        drop = min(max(before - self.start, 0), self._len)
        self._offset += drop
        self._len -= drop
        self.start += drop
