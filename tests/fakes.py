"""Fakes that implement the real protocols, for tests that need exact control.

Audio made by :func:`speak_script` encodes each word as a block of constant amplitude; the
level names the word's index in the vocabulary. :class:`ScriptedEngine` reads those levels
back, so "recognition" is exact and deterministic, with times from the audio itself, and a
word cut off by the end of the window comes back truncated, as Whisper's would.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from loquilex.asr import EngineCapabilities, Hypothesis, HypWord

SR = 16_000
_BASE = 0.2
_STEP = 0.002


def speak_script(
    words: Sequence[str], vocab: list[str], *, word_s: float = 0.3, gap_s: float = 0.05
) -> npt.NDArray[np.float32]:
    """One utterance: each word a constant block, short gaps between words."""
    pieces = []
    for word in words:
        if word not in vocab:
            vocab.append(word)
        level = _BASE + _STEP * vocab.index(word)
        pieces.append(np.full(int(word_s * SR), level, np.float32))
        pieces.append(np.zeros(int(gap_s * SR), np.float32))
    return np.concatenate(pieces)


def silence(seconds: float) -> npt.NDArray[np.float32]:
    return np.zeros(int(seconds * SR), np.float32)


class EnergyVad:
    """SpeechScorer: a window is speech when its mean level is above a threshold; it stands
    in for a voice model too (``voice`` is the same score)."""

    voice: npt.NDArray[np.float32] = np.zeros(0, np.float32)

    def score(
        self, windows: npt.NDArray[np.float32], context: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        self.voice = (np.abs(windows).mean(axis=1) > 0.05).astype(np.float32)
        return self.voice


@dataclass
class ScriptedEngine:
    """AsrEngine that reads the word levels written by :func:`speak_script`.

    ``mishear`` maps a word to what the engine says on the first ``mishear_times`` decodes
    that contain it (to exercise stabilisation); ``on_decode`` can add delays or count calls.
    """

    vocab: list[str]
    capabilities: EngineCapabilities = field(default_factory=EngineCapabilities)
    mishear: dict[str, str] = field(default_factory=dict)
    mishear_times: int = 1
    no_speech_prob: float = 0.01
    avg_logprob: float = -0.2
    on_decode: Callable[[npt.NDArray[np.float32]], None] | None = None
    calls: list[dict[str, object]] = field(default_factory=list)
    _seen: dict[str, int] = field(default_factory=dict)

    def decode(
        self,
        audio: npt.NDArray[np.float32],
        *,
        prompt: str = "",
        prefix: Sequence[str] = (),
        beam_size: int = 1,
    ) -> Hypothesis:
        self.calls.append(
            {
                "seconds": len(audio) / SR,
                "prefix": list(prefix),
                "beam": beam_size,
                "prompt": prompt,
            }
        )
        if self.on_decode is not None:
            self.on_decode(audio)
        words: list[HypWord] = []
        active = np.abs(audio) > 0.1
        i = 0
        n = len(audio)
        while i < n:
            if not active[i]:
                i += 1
                continue
            j = i
            while j < n and active[j] and abs(audio[j] - audio[i]) < _STEP / 2:
                j += 1
            index = round((float(audio[i]) - _BASE) / _STEP)
            text = self.vocab[index] if 0 <= index < len(self.vocab) else "?"
            complete = j < n and (j - i) >= int(0.28 * SR)
            if not complete:
                text = text[: max(1, len(text) // 2)]
            elif text in self.mishear and self._seen.get(text, 0) < self.mishear_times:
                self._seen[text] = self._seen.get(text, 0) + 1
                text = self.mishear[text]
            words.append(HypWord(text, i / SR, j / SR, 0.9))
            i = j
        forced = list(prefix)
        out = []
        for k, word in enumerate(words):
            if k < len(forced):
                out.append(HypWord(forced[k], word.t0, word.t1, word.prob))
            else:
                out.append(word)
        return Hypothesis(
            words=tuple(out),
            prefix_len=min(len(forced), len(out)),
            avg_logprob=self.avg_logprob,
            no_speech_prob=self.no_speech_prob,
            compression_ratio=1.2,
        )
