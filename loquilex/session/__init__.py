"""Sessions: the caption pipeline that runs a stream from source to events."""

from loquilex.session._pipeline import CaptionPipeline, EventSink

__all__ = ["CaptionPipeline", "EventSink"]
