"""Speech recognition: whole-file transcription and the streaming engine."""

from loquilex.asr._batch import transcribe_array

__all__ = ["transcribe_array"]
