"""What the streaming logic needs from a speech recogniser, as a protocol.

The real implementation is :class:`loquilex.asr.WhisperEngine`; tests use a scripted fake
that implements the same protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["AsrEngine", "EngineCapabilities", "HypWord", "Hypothesis"]


@dataclass(frozen=True, slots=True)
class HypWord:
    """A recognised word; times in seconds from the start of the decoded audio."""

    text: str
    t0: float
    t1: float
    prob: float


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """One decode of an audio window.

    ``words`` starts with the ``prefix_len`` forced prefix words (timed by alignment; the last
    may come back extended, "library" → "library.") followed by the generated words. The
    scores describe the generated part and drive the hallucination filters.
    """

    words: tuple[HypWord, ...]
    prefix_len: int = 0
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 1.0


@dataclass(frozen=True, slots=True)
class EngineCapabilities:
    """What an engine can do; callers adapt instead of probing with hasattr.

    Attributes:
      word_timestamps: words carry real times (else the window is shared out evenly).
      max_window_s: the longest window one decode accepts.
    """

    word_timestamps: bool = True
    max_window_s: float = 30.0


class AsrEngine(Protocol):
    """Blocking speech recognition over a short window. Never call it on an event loop."""

    @property
    def capabilities(self) -> EngineCapabilities: ...

    def decode(
        self,
        audio: npt.NDArray[np.float32],
        *,
        prompt: str = "",
        prefix: Sequence[str] = (),
        beam_size: int = 1,
    ) -> Hypothesis:
        """Recognise ``audio`` (16 kHz mono). ``prompt`` is text said before the window;
        ``prefix`` are words known to open the window, forced rather than recognised."""
        ...
