"""The asyncio face of a stream: feed audio from the loop, await recognised events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import numpy.typing as npt

from loquilex._crossing import call_in_loop
from loquilex.asr._scheduler import DecodeScheduler
from loquilex.asr._streaming import AsrEvent, StreamingASR
from loquilex.errors import AsrFailure

__all__ = ["AsrFailure", "AsyncRecognizer"]


_DONE = object()


class AsyncRecognizer:
    """Bridges a :class:`StreamingASR` on the scheduler's workers to an asyncio loop.

    Results cross from the worker thread to the loop through :func:`call_in_loop`, the
    project's one thread → loop helper.
    """

    def __init__(self, asr: StreamingASR, scheduler: DecodeScheduler, *, name: str = "") -> None:
        self.asr = asr
        self._scheduler = scheduler
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._progress = asyncio.Event()
        self._pacing = False  # only a paced (non-real-time) feeder waits on _progress
        self._handle = scheduler.register(asr, self._on_result, self._on_error, name)

    def _to_loop(self, item: object) -> None:
        call_in_loop(self._loop, self._queue.put_nowait, item)

    def _on_result(self, events: list[AsrEvent], closed: bool) -> None:
        if events:
            self._to_loop(events)
        if closed:
            self._to_loop(_DONE)
        if self._pacing:
            # Waking the loop after every 20 ms chunk is only worth it when someone waits.
            call_in_loop(self._loop, self._progress.set)

    def _on_error(self, exc: BaseException) -> None:
        self._to_loop(AsrFailure(f"speech recognition failed: {exc}"))

    def feed(self, samples: npt.NDArray[np.float32]) -> None:
        self.asr.feed(samples)
        self._scheduler.notify(self._handle)

    def finalize(self) -> None:
        self.asr.request_finalize()
        self._scheduler.notify(self._handle)

    def end(self) -> None:
        self.asr.end()
        self._scheduler.notify(self._handle)

    async def caught_up(self, max_lag_s: float = 0.1) -> None:
        """Wait until the recogniser has processed all but ``max_lag_s`` of the audio fed."""
        self._pacing = True
        while self.asr.lag_s > max_lag_s and not self.asr.closed:
            self._progress.clear()
            await self._progress.wait()

    def close(self) -> None:
        self._scheduler.unregister(self._handle)

    async def events(self) -> AsyncIterator[AsrEvent]:
        """Every recognised event, in order, until the stream has ended."""
        while True:
            item = await self._queue.get()
            if item is _DONE:
                return
            if isinstance(item, AsrFailure):
                raise item
            for event in item:  # type: ignore[attr-defined]
                yield event
