"""How a final was said: pitch, loudness, speaking rate and pauses (``audio_state``).

Pitch is the median F0 of the voiced 40 ms frames (normalised autocorrelation, 60-400 Hz);
energy the RMS level of the speech in dBFS; rate the words per second between the first and
last word; pauses the gaps between words longer than 0.3 s. Levels compare with the
speaker's running baseline (the mean of their earlier finals): a semitone distance for
pitch, dB for energy. A final is a few milliseconds of numpy.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loquilex.audio import measure_pitch
from loquilex.types import Word

__all__ = ["ProsodyTracker"]

_PAUSE_S = 0.3
#: A level differs from the baseline by at least this much (semitones, dB, words/s ratio).
_PITCH_ST = 2.0
_ENERGY_DB = 4.0
_RATE_RATIO = 1.25


def _level(delta: float, step: float, low: str = "low", high: str = "high") -> str:
    if delta >= step:
        return high
    if delta <= -step:
        return low
    return "normal"


@dataclass(slots=True)
class _Baseline:
    pitch: list[float] = field(default_factory=list)
    energy: list[float] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)


class ProsodyTracker:
    """One per stream: measures each final and keeps each speaker's baseline."""

    def __init__(self) -> None:
        self._baselines: dict[str | None, _Baseline] = {}

    def measure(
        self, audio: npt.NDArray[np.float32], words: Sequence[Word], speaker: str | None
    ) -> dict[str, Any]:
        base = self._baselines.setdefault(speaker, _Baseline())
        state: dict[str, Any] = {}
        flags: list[str] = []
        pitch = measure_pitch(audio) if audio.size else None
        if pitch is not None:
            level = "normal"
            if base.pitch:
                level = _level(12 * np.log2(pitch / float(np.mean(base.pitch))), _PITCH_ST)
            state["pitch_hz"] = round(pitch, 1)
            state["pitch_level"] = level
            base.pitch.append(pitch)
            if level != "normal":
                flags.append(f"{level} pitch")
        if audio.size:
            rms = float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))
            energy = 20 * np.log10(max(rms, 1e-9))
            level = "normal"
            if base.energy:
                level = _level(energy - float(np.mean(base.energy)), _ENERGY_DB, "quiet", "loud")
            state["energy_db"] = round(energy, 1)
            state["energy_level"] = level
            base.energy.append(energy)
            if level != "normal":
                flags.append(level)
        spoken = [w for w in words if w.w.strip()]
        if len(spoken) >= 2 and spoken[-1].t1 > spoken[0].t0:
            rate = len(spoken) / (spoken[-1].t1 - spoken[0].t0)
            level = "normal"
            if base.rate:
                ratio = rate / float(np.mean(base.rate))
                if ratio >= _RATE_RATIO:
                    level = "fast"
                elif ratio <= 1 / _RATE_RATIO:
                    level = "slow"
            state["words_per_s"] = round(rate, 2)
            state["rate_level"] = level
            base.rate.append(rate)
            if level != "normal":
                flags.append(level)
            gaps = [b.t0 - a.t1 for a, b in itertools.pairwise(spoken)]
            pauses = [g for g in gaps if g >= _PAUSE_S]
            state["pauses"] = len(pauses)
            state["pause_s"] = round(sum(pauses), 2)
        for values in (base.pitch, base.energy, base.rate):
            del values[:-50]  # a running baseline over the speaker's last 50 finals
        state["rendering"] = f"[audio: {', '.join(flags)}]" if flags else "[audio: neutral]"
        return state
