"""Speech recognition: whole-file transcription and the streaming engine."""

from loquilex.asr._async import AsrFailure, AsyncRecognizer
from loquilex.asr._batch import transcribe_array
from loquilex.asr._engine import AsrEngine, EngineCapabilities, Hypothesis, HypWord
from loquilex.asr._scheduler import DecodeScheduler, StreamHandle
from loquilex.asr._streaming import (
    AsrEvent,
    AsrStats,
    StreamConfig,
    StreamingASR,
    UtteranceFinal,
    UtterancePartial,
)
from loquilex.asr._vad import SileroVad, SpeechScorer
from loquilex.asr._whisper import WhisperEngine

__all__ = [
    "AsrEngine",
    "AsrEvent",
    "AsrFailure",
    "AsrStats",
    "AsyncRecognizer",
    "DecodeScheduler",
    "EngineCapabilities",
    "HypWord",
    "Hypothesis",
    "SileroVad",
    "SpeechScorer",
    "StreamConfig",
    "StreamHandle",
    "StreamingASR",
    "UtteranceFinal",
    "UtterancePartial",
    "WhisperEngine",
    "transcribe_array",
]
