"""Endpointing: voice activity per 32 ms window and the end-of-utterance state machine.

This module knows nothing about words. It turns a speech probability per window into the
moments the recogniser acts on: an utterance opens, a short pause is long enough to try a
final decode, the pause is long enough to end the utterance, an utterance is too long, or
what opened one was too little speech to keep. Positions are absolute samples on the
stream clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from loquilex.asr._vad import WINDOW
from loquilex.audio import SAMPLE_RATE

__all__ = ["EndpointSignal", "Endpointer", "EndpointerConfig"]


class EndpointSignal(enum.Enum):
    """What one VAD window means for the open utterance."""

    OPEN = "open"  # speech began; the utterance starts at ``Endpointer.start``
    PAUSE = "pause"  # silence reached ``pause_s``: time for a final decode
    END = "end"  # silence reached ``end_s``: the utterance is over
    DROP = "drop"  # silence after less speech than ``min_speech_s``: forget it
    # END and DROP close the utterance; the next speech window sends OPEN again.
    LONG = "long"  # the utterance reached ``max_s``


@dataclass(frozen=True, slots=True)
class EndpointerConfig:
    """Thresholds in VAD probability and seconds.

    Attributes:
      threshold: probability at which a window counts as speech.
      neg_threshold: probability under which speech is over (hysteresis); below
        ``threshold``.
      pause_s / end_s: silence that triggers ``PAUSE`` / ``END``.
      min_speech_s: an utterance with less speech than this is dropped at its first pause.
      max_s: ``LONG`` once an utterance is this long.
      preroll_s: audio before the first speech window that belongs to the utterance.
    """

    threshold: float = 0.5
    neg_threshold: float = 0.35
    pause_s: float = 0.25
    end_s: float = 0.5
    min_speech_s: float = 0.2
    max_s: float = 12.0
    preroll_s: float = 0.3


class Endpointer:
    """Per-stream speech/silence state. ``step`` is called once per window, in order."""

    def __init__(self, config: EndpointerConfig) -> None:
        self.config = config
        self.in_speech = False
        self.is_open = False
        self.start = 0  # first sample of the open utterance (pre-roll included)
        self.speech_samples = 0
        self.silence_samples = 0
        self._pause_sent = False

    @property
    def speech_s(self) -> float:
        return self.speech_samples / SAMPLE_RATE

    @property
    def silence_s(self) -> float:
        """Silence since the last speech window of the open utterance."""
        return self.silence_samples / SAMPLE_RATE

    @property
    def pausing(self) -> bool:
        """True once the current silence is long enough for a final decode."""
        return self._pause_sent

    def carry(self, start: int, speech_samples: int, *, keep_silence: bool = False) -> None:
        """Go on with a new utterance from ``start`` after a final in mid-utterance; with
        ``keep_silence`` the pause in progress keeps counting (its PAUSE was sent)."""
        self.is_open = True
        self.start = start
        self.speech_samples = speech_samples
        if not keep_silence:
            self.silence_samples = 0
            self._pause_sent = False

    def close(self) -> None:
        self.is_open = False
        self.speech_samples = self.silence_samples = 0
        self._pause_sent = False

    def step(self, prob: float, end: int, floor: int) -> EndpointSignal | None:
        """Take the window that ends at sample ``end``; ``floor`` is the oldest sample still
        buffered (the pre-roll cannot reach before it)."""
        cfg = self.config
        speech = prob >= cfg.threshold or (self.in_speech and prob >= cfg.neg_threshold)
        self.in_speech = speech
        if not self.is_open:
            if not speech:
                return None
            self.carry(max(floor, end - WINDOW - int(cfg.preroll_s * SAMPLE_RATE)), WINDOW)
            return EndpointSignal.OPEN
        if speech:
            self.speech_samples += WINDOW
            self.silence_samples = 0
            self._pause_sent = False
        else:
            self.silence_samples += WINDOW
            silence = self.silence_samples / SAMPLE_RATE
            if silence >= cfg.end_s:
                too_little = self.speech_samples < cfg.min_speech_s * SAMPLE_RATE
                self.close()
                return EndpointSignal.DROP if too_little else EndpointSignal.END
            if self.speech_samples < cfg.min_speech_s * SAMPLE_RATE:
                return None
            if silence >= cfg.pause_s and not self._pause_sent:
                self._pause_sent = True
                return EndpointSignal.PAUSE
        if (end - self.start) / SAMPLE_RATE >= cfg.max_s:
            return EndpointSignal.LONG
        return None
