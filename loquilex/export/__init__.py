"""Transcripts and their formats (VTT, SRT, TXT, JSON), independent of any model."""

from loquilex.export._formats import FORMATS, Cue, render, split_cues
from loquilex.export._transcript import Segment, Transcript, Word

__all__ = ["FORMATS", "Cue", "Segment", "Transcript", "Word", "render", "split_cues"]
