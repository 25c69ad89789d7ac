"""Audio in: frames on a stream clock, format conversion, file decoding and sources."""

from loquilex.audio._convert import Resampler, StreamConverter, pcm_to_float
from loquilex.audio._decode import decode_file, duration_of
from loquilex.audio._frames import SAMPLE_RATE, AudioFrame
from loquilex.audio._history import AudioHistory
from loquilex.audio._pitch import measure_pitch
from loquilex.audio._sources import AudioSource, AudioSourceError, FileSource, MicSource, PushSource

__all__ = [
    "SAMPLE_RATE",
    "AudioFrame",
    "AudioHistory",
    "AudioSource",
    "AudioSourceError",
    "FileSource",
    "MicSource",
    "PushSource",
    "Resampler",
    "StreamConverter",
    "decode_file",
    "duration_of",
    "measure_pitch",
    "pcm_to_float",
]
