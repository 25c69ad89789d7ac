"""One shared recogniser, many streams: fair scheduling of ``StreamingASR.process`` calls.

Worker threads take streams that have work round-robin; a stream is never processed by two
workers at once, and after its turn a stream with more work goes to the back of the queue,
so a busy stream cannot starve the others. A stream that falls behind gets its audio in
bigger batches, and ``StreamingASR`` then skips partial decodes (never finals) to catch up.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from loquilex.asr._streaming import AsrEvent, StreamingASR

__all__ = ["DecodeScheduler", "StreamHandle"]

logger = logging.getLogger(__name__)

ResultCallback = Callable[[list[AsrEvent], bool], None]
ErrorCallback = Callable[[BaseException], None]


@dataclass(eq=False)
class StreamHandle:
    """A registered stream. Callbacks run on a worker thread."""

    asr: StreamingASR
    on_result: ResultCallback
    on_error: ErrorCallback
    name: str = ""
    queued: bool = field(default=False, repr=False)
    running: bool = field(default=False, repr=False)
    removed: bool = field(default=False, repr=False)


class DecodeScheduler:
    """Runs every registered stream's ``process`` on ``workers`` named threads."""

    def __init__(self, workers: int = 1, name: str = "loquilex-asr") -> None:
        self._ready: deque[StreamHandle] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True)
            for i in range(max(workers, 1))
        ]
        for thread in self._threads:
            thread.start()

    def register(
        self, asr: StreamingASR, on_result: ResultCallback, on_error: ErrorCallback, name: str = ""
    ) -> StreamHandle:
        return StreamHandle(asr, on_result, on_error, name)

    def notify(self, handle: StreamHandle) -> None:
        """The stream has new audio or a request: give it a turn. Thread-safe, cheap."""
        with self._cond:
            if self._closed:
                raise RuntimeError("scheduler is closed")
            if handle.removed or handle.queued or handle.running:
                return
            handle.queued = True
            self._ready.append(handle)
            self._cond.notify()

    def unregister(self, handle: StreamHandle) -> None:
        with self._cond:
            handle.removed = True
            if handle.queued:
                self._ready.remove(handle)
                handle.queued = False

    @property
    def queue_depth(self) -> int:
        with self._cond:
            return len(self._ready)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (after the turns in progress) and wait for them."""
        with self._cond:
            self._closed = True
            self._ready.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                handle = self._ready.popleft()
                handle.queued = False
                handle.running = True
            try:
                events = handle.asr.process()
                handle.on_result(events, handle.asr.closed)
            except Exception as exc:
                logger.exception("stream %s failed", handle.name or id(handle))
                with self._cond:
                    handle.removed = True
                handle.on_error(exc)
            finally:
                with self._cond:
                    handle.running = False
                    again = not handle.removed and not handle.asr.closed and handle.asr.has_work
                    if again and not self._closed:
                        handle.queued = True
                        self._ready.append(handle)
                        self._cond.notify()
