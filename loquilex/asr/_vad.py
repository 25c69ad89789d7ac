"""Streaming voice activity detection with the Silero VAD that ships inside faster-whisper.

faster-whisper runs Silero on whole files; here the same ONNX model scores each 32 ms window
(512 samples at 16 kHz, plus the 64 samples before it as context) as the audio arrives. The
model treats the rows of a batch as consecutive steps of one sequence and returns its
recurrent state, which each stream carries from call to call; so scores of audio fed in any
chunking match faster-whisper's offline VAD on the whole file.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

__all__ = ["WINDOW", "SileroVad", "SpeechScorer"]

WINDOW = 512
_CONTEXT = 64


class SpeechScorer(Protocol):
    """Scores 512-sample windows: returns one speech probability per window."""

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

    def score(
        self, windows: npt.NDArray[np.float32], context: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        if len(windows) == 0:
            return np.zeros(0, dtype=np.float32)
        previous_tails = np.concatenate([context[None, :], windows[:-1, -_CONTEXT:]], axis=0)
        batch = np.concatenate([previous_tails, windows], axis=1).astype(np.float32)
        out, self._h, self._c = SileroVad._session.run(
            None, {"input": batch, "h": self._h, "c": self._c}
        )
        probs: npt.NDArray[np.float32] = np.asarray(out, dtype=np.float32).reshape(-1)
        return probs
