"""Speech recognition: whole-file transcription and the streaming engine."""

from loquilex.asr._async import AsrFailure, AsyncRecognizer
from loquilex.asr._batch import transcribe_array
from loquilex.asr._endpoint import Endpointer, EndpointerConfig, EndpointSignal
from loquilex.asr._engine import AsrEngine, EngineCapabilities, Hypothesis, HypWord
from loquilex.asr._scheduler import DecodeScheduler, StreamHandle
from loquilex.asr._streaming import (
    AsrEvent,
    AsrStats,
    StreamingASR,
    UtteranceFinal,
    UtterancePartial,
)
from loquilex.asr._vad import EnergyVad, SileroVad, SpeechScorer, make_vad
from loquilex.asr._whisper import WhisperEngine
from loquilex.config import EouReason, StreamConfig, VadKind, stream_overrides_model

__all__ = [
    "AsrEngine",
    "AsrEvent",
    "AsrFailure",
    "AsrStats",
    "AsyncRecognizer",
    "DecodeScheduler",
    "EndpointSignal",
    "Endpointer",
    "EndpointerConfig",
    "EnergyVad",
    "EngineCapabilities",
    "EouReason",
    "HypWord",
    "Hypothesis",
    "SileroVad",
    "SpeechScorer",
    "StreamConfig",
    "StreamHandle",
    "StreamingASR",
    "UtteranceFinal",
    "UtterancePartial",
    "VadKind",
    "WhisperEngine",
    "make_vad",
    "stream_overrides_model",
    "transcribe_array",
]
