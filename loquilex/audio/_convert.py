"""Turn any PCM (rate, channel count, PCM16 or float32) into 16 kHz mono float32.

Conversion is stateful so that a stream cut into arbitrary chunks resamples exactly as the
whole stream would: the low-pass filter keeps its history and the interpolator keeps its
fractional read position across chunks.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from loquilex.audio._frames import SAMPLE_RATE
from loquilex.errors import AudioFormatError

__all__ = ["AudioEncoding", "Resampler", "StreamConverter", "pcm_to_float"]

AudioEncoding = Literal["pcm_s16le", "f32le"]
Float32Array = npt.NDArray[np.float32]

_FILTER_TAPS = 63


def pcm_to_float(
    data: bytes, channels: int = 1, encoding: AudioEncoding = "pcm_s16le"
) -> Float32Array:
    """Decode interleaved PCM bytes into mono float32 (channels averaged)."""
    if channels < 1:
        raise AudioFormatError(f"channel count must be at least 1, got {channels}")
    if encoding == "pcm_s16le":
        width = 2
    elif encoding == "f32le":
        width = 4
    else:
        raise AudioFormatError(f"unsupported audio format {encoding!r}; use pcm_s16le or f32le")
    if len(data) % (width * channels):
        raise AudioFormatError(
            f"{len(data)} bytes is not a whole number of {encoding} frames "
            f"({width * channels} bytes each for {channels} channel(s))"
        )
    if encoding == "pcm_s16le":
        samples = np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0
    else:
        samples = np.frombuffer(data, dtype="<f4").astype(np.float32)
        if not np.all(np.isfinite(samples)):
            raise AudioFormatError("float32 audio contains NaN or infinity")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    return samples


class Resampler:
    """Streaming resampler: windowed-sinc low-pass (when downsampling) + linear interpolation."""

    def __init__(self, src_rate: int, dst_rate: int = SAMPLE_RATE) -> None:
        if src_rate < 1000 or src_rate > 384_000:
            raise AudioFormatError(f"unsupported sample rate {src_rate} Hz")
        self.src_rate = src_rate
        self.dst_rate = dst_rate
        self._step = src_rate / dst_rate
        self._taps: Float32Array | None = None
        if src_rate > dst_rate:
            cutoff = 0.45 * dst_rate / src_rate  # cycles per input sample, under Nyquist
            n = np.arange(_FILTER_TAPS) - (_FILTER_TAPS - 1) / 2
            taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(_FILTER_TAPS)
            self._taps = (taps / taps.sum()).astype(np.float32)
            self._history = np.zeros(_FILTER_TAPS - 1, dtype=np.float32)
        self._prev = np.zeros(0, dtype=np.float32)
        self._t = 0.0

    def process(self, x: Float32Array) -> Float32Array:
        if self.src_rate == self.dst_rate or len(x) == 0:
            return x.astype(np.float32, copy=False)
        if self._taps is not None:
            padded = np.concatenate([self._history, x])
            self._history = padded[-(_FILTER_TAPS - 1) :]
            x = np.convolve(padded, self._taps, mode="valid").astype(np.float32)
        buf = np.concatenate([self._prev, x])
        last = len(buf) - 1
        if self._t > last:
            count = 0
        else:
            count = int((last - self._t) // self._step) + 1
        pos = self._t + self._step * np.arange(count)
        i0 = np.floor(pos).astype(np.int64)
        frac = (pos - i0).astype(np.float32)
        i1 = np.minimum(i0 + 1, last)
        out = buf[i0] * (1 - frac) + buf[i1] * frac
        self._t = self._t + count * self._step - last
        self._prev = buf[-1:]
        result: Float32Array = out.astype(np.float32)
        return result


class StreamConverter:
    """Bytes in the client's declared format → 16 kHz mono float32, chunk after chunk."""

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        channels: int = 1,
        encoding: AudioEncoding = "pcm_s16le",
    ) -> None:
        if encoding not in ("pcm_s16le", "f32le"):
            raise AudioFormatError(f"unsupported audio format {encoding!r}; use pcm_s16le or f32le")
        if not 1 <= channels <= 8:
            raise AudioFormatError(f"unsupported channel count {channels}; use 1 to 8")
        self.channels = channels
        self.encoding: AudioEncoding = encoding
        self.sample_rate = sample_rate
        self._resampler = Resampler(sample_rate)

    def duration_s(self, n_bytes: int) -> float:
        """Seconds of audio in ``n_bytes`` of this format."""
        width = 2 if self.encoding == "pcm_s16le" else 4
        return n_bytes / (width * self.channels * self.sample_rate)

    def convert(self, data: bytes) -> Float32Array:
        return self._resampler.process(pcm_to_float(data, self.channels, self.encoding))
