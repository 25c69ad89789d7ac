"""AudioHistory: the last seconds of a stream, addressable by time on its audio clock.

Speaker attribution and prosody read the audio a final covers after the recogniser has
moved on; the pipeline appends every frame it transcribes. Fed from the event loop and read
from a worker thread, so both sides take a lock (held only to copy references).
"""

from __future__ import annotations

import threading
from collections import deque

import numpy as np
import numpy.typing as npt

from loquilex.audio._frames import SAMPLE_RATE

__all__ = ["AudioHistory"]


class AudioHistory:
    def __init__(self, keep_s: float = 60.0) -> None:
        self._chunks: deque[npt.NDArray[np.float32]] = deque()
        self._start = 0  # sample index (on the stream clock) of the first kept sample
        self._end = 0  # sample index after the last appended sample
        self._keep = int(keep_s * SAMPLE_RATE)
        self._lock = threading.Lock()

    @property
    def duration_s(self) -> float:
        """How much audio the stream has had in all."""
        return self._end / SAMPLE_RATE

    def append(self, samples: npt.NDArray[np.float32]) -> None:
        if samples.size == 0:
            return
        with self._lock:
            self._chunks.append(samples.astype(np.float32, copy=False))
            self._end += len(samples)
            while self._chunks and self._end - self._start - len(self._chunks[0]) >= self._keep:
                self._start += len(self._chunks.popleft())

    def between(self, start_s: float, end_s: float) -> npt.NDArray[np.float32]:
        """The audio between two times, as much of it as is still kept (maybe none)."""
        with self._lock:
            chunks, position, end = list(self._chunks), self._start, self._end
        first = max(int(start_s * SAMPLE_RATE), position)
        last = min(int(end_s * SAMPLE_RATE), end)
        if last <= first:
            return np.zeros(0, np.float32)
        out = []
        for chunk in chunks:
            lo, hi = position, position + len(chunk)
            if hi > first and lo < last:
                out.append(chunk[max(first - lo, 0) : min(last - lo, len(chunk))])
            position = hi
            if position >= last:
                break
        return np.concatenate(out) if out else np.zeros(0, np.float32)
