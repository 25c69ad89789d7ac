"""Streaming voice activity detection: a protocol and three detectors, chosen per stream.

:class:`SileroVad` is the neural detector that ships inside faster-whisper;
:class:`EnergyVad` is a level gate over an adaptive noise floor, with no model at all;
:class:`HybridVad` (the default) hears speech where either does (``StreamConfig.vad``). Each
scores 32 ms windows with a speech probability, and says separately how sure a model trained
on voices is of each window (``voice``): the recogniser is stricter with audio that only the
level gate let through, which is how a sustained tone or chord is kept from becoming text.

faster-whisper runs Silero on whole files; here the same ONNX model scores each 32 ms window
(512 samples at 16 kHz, plus the 64 samples before it as context) as the audio arrives. The
model treats the rows of a batch as consecutive steps of one sequence and returns its
recurrent state, which each stream carries from call to call; so scores of audio fed in any
chunking match faster-whisper's offline VAD on the whole file.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from loquilex.config import VadKind

__all__ = ["WINDOW", "EnergyVad", "HybridVad", "SileroVad", "SpeechScorer", "make_vad"]

WINDOW = 512
_CONTEXT = 64


class SpeechScorer(Protocol):
    """Scores 512-sample windows: returns one speech probability per window.

    After each ``score``, ``voice`` holds, for the same windows, the probability a model
    trained on voices gives them: Silero's own score, zeros for a detector without one.
    """

    voice: npt.NDArray[np.float32]

    def score(
        self, windows: npt.NDArray[np.float32], context: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        """``windows`` is (n, 512); ``context`` the 64 samples before the first window."""
        ...


class SileroVad:
    """Per-stream scorer; the ONNX session (stateless, thread-safe) is shared by all streams."""

    _lock = threading.Lock()
    _session: Any = None

    def __init__(self) -> None:
        with SileroVad._lock:
            if SileroVad._session is None:
                import onnxruntime
                from faster_whisper.utils import get_assets_path

                opts = onnxruntime.SessionOptions()
                opts.inter_op_num_threads = 1
                opts.intra_op_num_threads = 1
                opts.log_severity_level = 4
                path = Path(get_assets_path()) / "silero_vad_v6.onnx"
                SileroVad._session = onnxruntime.InferenceSession(
                    str(path), providers=["CPUExecutionProvider"], sess_options=opts
                )
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self.voice = np.zeros(0, dtype=np.float32)

    def score(
        self, windows: npt.NDArray[np.float32], context: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        if len(windows) == 0:
            self.voice = np.zeros(0, dtype=np.float32)
            return self.voice
        previous_tails = np.concatenate([context[None, :], windows[:-1, -_CONTEXT:]], axis=0)
        batch = np.concatenate([previous_tails, windows], axis=1).astype(np.float32)
        out, self._h, self._c = SileroVad._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        probs: npt.NDArray[np.float32] = np.asarray(out, dtype=np.float32).reshape(-1)
        self.voice = probs
        return probs


class EnergyVad:
    """Level gate: a window is speech when it is well above the noise floor and its
    spectrum is not flat.

    The noise floor is the quietest window of the last ``floor_s`` seconds (plus
    ``floor_offset_db``, since the quietest of many noisy windows lies below their mean):
    speech always has gaps between syllables within that time, so the minimum finds the
    background under it and follows it up or down within ``floor_s``, whether the stream
    starts with digital silence, a fan or a crowd. The probability is a logistic of the
    level over the floor, 0.5 at ``margin_db``, scaled down as the spectrum gets flat
    (spectral flatness from ``flat_from`` to ``flat_to``): speech, whispered speech
    included, has formants (flatness mostly under 0.1 here), broadband noise does not
    (about 0.55), so a sudden burst of noise is not taken for speech. Cheap and model-free;
    anything else it lets through is left to the decoder's no-speech gate.
    """

    def __init__(
        self,
        *,
        margin_db: float = 9.0,
        floor_s: float = 2.0,
        floor_offset_db: float = 3.0,
        min_level_db: float = -65.0,
        flat_from: float = 0.3,
        flat_to: float = 0.5,
    ) -> None:
        self._margin = margin_db
        self._offset = floor_offset_db
        self._lowest = min_level_db - margin_db  # below this, a level is silence however low
        self._flat = (flat_from, flat_to)
        self._recent: deque[float] = deque(maxlen=max(int(floor_s * 16_000 / WINDOW), 1))
        self._taper = np.hanning(WINDOW).astype(np.float32)
        self.voice = np.zeros(0, dtype=np.float32)

    def _flatness(self, windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        # 125 Hz to 6.25 kHz: where voices have their formants.
        power = np.abs(np.fft.rfft(windows * self._taper, axis=1))[:, 4:200] ** 2 + 1e-12
        flat: npt.NDArray[np.float64] = np.exp(np.mean(np.log(power), axis=1)) / np.mean(
            power, axis=1
        )
        return flat

    def score(
        self, windows: npt.NDArray[np.float32], context: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        rms = np.sqrt(np.mean(np.square(windows, dtype=np.float64), axis=1))
        levels = 20 * np.log10(np.maximum(rms, 1e-9))
        lo, hi = self._flat
        tonal = np.clip((hi - self._flatness(windows)) / (hi - lo), 0.0, 1.0)
        probs = np.zeros(len(levels), dtype=np.float32)
        self.voice = np.zeros(len(levels), dtype=np.float32)
        for i, level in enumerate(levels):
            self._recent.append(max(float(level), self._lowest))
            floor = min(self._recent) + self._offset
            probs[i] = tonal[i] / (1.0 + np.exp(-(level - floor - self._margin) / 2.0))
        return probs


class HybridVad:
    """Silero or the energy gate, whichever hears speech: Silero is sure of ordinary voices
    in noise, the gate catches whispered and hoarse speech that Silero scores as silence.
    ``voice`` is Silero's score, so what only the gate heard (a whisper, but also a held
    chord or a hum) meets the recogniser's stricter no-speech rule for such audio."""

    #: Windows in a row the gate must hear before it counts (192 ms): an ordinary voice
    #: opens Silero within that time, so where speech starts stays Silero's call. An onset
    #: 60 ms earlier moved the first decode of "The weather is nice today, …" and tiny.en
    #: heard "But when there is ice today," there.
    SUSTAIN = 6
    #: Windows in a row the gate must be quiet before it has to sustain again (320 ms, more
    #: than the pause that runs a final decode): within whispered speech it stays engaged
    #: over the gaps between words, so utterances are not chopped up.
    RELEASE = 10

    def __init__(self, voice: SpeechScorer | None = None, gate: SpeechScorer | None = None) -> None:
        self._silero = voice if voice is not None else SileroVad()
        self._energy = gate if gate is not None else EnergyVad()
        self.voice = np.zeros(0, dtype=np.float32)
        self._run = 0  # windows in a row the gate has heard
        self._quiet = 0  # windows in a row it has not
        self._engaged = False

    def score(
        self, windows: npt.NDArray[np.float32], context: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        self.voice = self._silero.score(windows, context)
        gate = self._energy.score(windows, context)
        out = self.voice.copy()
        for i, prob in enumerate(gate):
            if prob >= 0.5:
                self._run, self._quiet = self._run + 1, 0
                self._engaged = self._engaged or self._run >= self.SUSTAIN
            else:
                self._run, self._quiet = 0, self._quiet + 1
                self._engaged = self._engaged and self._quiet < self.RELEASE
            if self._engaged:
                out[i] = max(out[i], prob)
        return out


def make_vad(kind: VadKind) -> SpeechScorer:
    """A new per-stream detector of the given kind."""
    if kind == "energy":
        return EnergyVad()
    if kind == "hybrid":
        return HybridVad()
    return SileroVad()
