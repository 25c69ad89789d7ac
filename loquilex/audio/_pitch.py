"""Pitch of a stretch of speech: the median F0 of its voiced frames.

Normalised autocorrelation over 40 ms frames (two periods of a 50 Hz voice) every 10 ms,
60-400 Hz; a frame is voiced when it is loud enough and periodic enough. A stretch is a few
milliseconds of numpy. Prosody reports it; speaker attribution uses it as a second cue.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["measure_pitch"]

_SR = 16000
_FRAME = 640
_HOP = 160


def measure_pitch(audio: npt.NDArray[np.float32]) -> float | None:
    """Median F0 in Hz of the voiced frames, or None when nothing is voiced."""
    count = 1 + (len(audio) - _FRAME) // _HOP
    if count <= 0:
        return None
    frames = np.lib.stride_tricks.as_strided(
        audio, (count, _FRAME), (audio.strides[0] * _HOP, audio.strides[0]), writeable=False
    ).astype(np.float64)
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = (frames**2).mean(axis=1)
    loud = energy > max(float(energy.max()) * 0.05, 1e-9)
    if not loud.any():
        return None
    spectrum = np.fft.rfft(frames[loud], 2 * _FRAME, axis=1)
    corr = np.fft.irfft(np.abs(spectrum) ** 2, axis=1)[:, :_FRAME]
    corr /= np.maximum(corr[:, :1], 1e-12)
    lo, hi = _SR // 400, _SR // 60
    lags = corr[:, lo:hi].argmax(axis=1) + lo
    voiced = corr[np.arange(len(lags)), lags] > 0.5
    if voiced.sum() < 3:
        return None
    return float(np.median(_SR / lags[voiced]))
