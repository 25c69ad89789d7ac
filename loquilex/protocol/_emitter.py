"""Envelope construction with per-stream, strictly increasing event ids."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from pydantic import BaseModel

from loquilex.protocol._events import Envelope, EventType

__all__ = ["EventEmitter", "new_stream_id"]


def new_stream_id() -> str:
    return f"str-{uuid.uuid4()}"


def _wall_ms() -> int:
    return int(time.time() * 1000)


class EventEmitter:
    """The one place a stream's envelopes get their ``event_id``; ids start at 1, never reset.

    ``wall_ms`` is injectable for tests; it is used only for the display timestamp
    ``ts_server``; ordering never depends on it. ``stride`` spaces the ids out: in cluster
    mode the gaps hold the ids other nodes give their viewers' private events
    (loquilex/cluster/_view.py), so ids stay unique per stream across nodes.
    """

    def __init__(
        self,
        stream_id: str | None = None,
        wall_ms: Callable[[], int] = _wall_ms,
        *,
        stride: int = 1,
    ) -> None:
        self.stream_id = stream_id or new_stream_id()
        self._wall_ms = wall_ms
        self.stride = stride
        self._last_id = 0
        self._lock = threading.Lock()

    @property
    def last_event_id(self) -> int:
        return self._last_id

    def _next_id(self) -> int:
        """The next id (called with the lock held)."""
        self._last_id += self.stride
        return self._last_id

    def emit(
        self,
        type: EventType,
        payload: BaseModel,
        *,
        segment_id: str | None = None,
        ts_audio_start: float | None = None,
        ts_audio_end: float | None = None,
    ) -> Envelope:
        with self._lock:
            event_id = self._next_id()
            return Envelope.build(
                event_id=event_id,
                stream_id=self.stream_id,
                type=type,
                payload=payload,
                ts_server=self._wall_ms(),
                segment_id=segment_id,
                ts_audio_start=ts_audio_start,
                ts_audio_end=ts_audio_end,
            )
