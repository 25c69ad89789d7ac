"""Audio sources: a file (real time or fast), the microphone, or frames pushed by a server.

Every source is an async iterator of :class:`AudioFrame` (16 kHz mono float32) whose
``start`` counts samples from the first one, the stream's audio clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from loquilex._crossing import call_in_loop
from loquilex.audio._convert import AudioEncoding, StreamConverter
from loquilex.audio._decode import decode_file
from loquilex.audio._frames import SAMPLE_RATE, AudioFrame
from loquilex.errors import AudioSourceError

__all__ = ["AudioSource", "AudioSourceError", "FileSource", "MicSource", "PushSource"]

logger = logging.getLogger(__name__)


class AudioSource(Protocol):
    """Yields frames until the audio ends; ``close`` makes the iteration finish early.

    ``realtime`` is False for a source that can go as fast as its consumer (a file replayed
    with ``--fast``): the pipeline then paces it by the recogniser instead of the clock.
    """

    realtime: bool

    def frames(self) -> AsyncIterator[AudioFrame]: ...

    def close(self) -> None: ...


class _Clock:
    """Counts samples to stamp frames on the stream's audio clock."""

    def __init__(self) -> None:
        self.samples = 0

    def frame(self, samples: npt.NDArray[np.float32]) -> AudioFrame:
        frame = AudioFrame(samples, SAMPLE_RATE, self.samples / SAMPLE_RATE)
        self.samples += len(samples)
        return frame


class FileSource:
    """A file replayed at real time (default) or as fast as the consumer takes it."""

    def __init__(self, path: Path, *, realtime: bool = True, chunk_s: float = 0.02) -> None:
        self.path = path
        self.audio = decode_file(path)
        self.realtime = realtime
        self.chunk = max(int(chunk_s * SAMPLE_RATE), 1)
        self._closed = False

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE

    def close(self) -> None:
        self._closed = True

    async def frames(self) -> AsyncIterator[AudioFrame]:
        clock = _Clock()
        started = time.monotonic()
        for offset in range(0, len(self.audio), self.chunk):
            if self._closed:
                return
            if self.realtime:
                due = started + offset / SAMPLE_RATE
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.5:
                    # The consumer stopped taking audio for a while (a pause): carry on at
                    # real time from here instead of rushing to catch up.
                    started -= delay
            else:
                await asyncio.sleep(0)
            yield clock.frame(self.audio[offset : offset + self.chunk])


_CLOSE = object()


class PushSource:
    """Frames handed in by someone else (the server's WebSocket), in the client's format."""

    realtime = True

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        channels: int = 1,
        encoding: AudioEncoding = "pcm_s16le",
    ) -> None:
        self._converter = StreamConverter(sample_rate, channels, encoding)
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False
        self._queued_samples = 0
        self.received_bytes = 0

    @property
    def queued_s(self) -> float:
        """Audio pushed but not yet taken by the reader, in seconds."""
        return self._queued_samples / SAMPLE_RATE

    def duration_s(self, data: bytes) -> float:
        """How much audio ``data`` holds in this source's declared format."""
        return self._converter.duration_s(len(data))

    def push(self, data: bytes) -> int:
        """Convert and queue one chunk; returns the number of 16 kHz samples it made.
        Raises AudioFormatError for bytes that do not fit the declared format."""
        if self._closed:
            raise AudioSourceError("push source is closed")
        samples = self._converter.convert(data)
        self.received_bytes += len(data)
        if len(samples):
            self._queued_samples += len(samples)
            self._queue.put_nowait(samples)
        return len(samples)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._queue.put_nowait(_CLOSE)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        clock = _Clock()
        while True:
            item = await self._queue.get()
            if item is _CLOSE:
                return
            self._queued_samples -= len(item)  # type: ignore[arg-type]
            yield clock.frame(item)  # type: ignore[arg-type]


class MicSource:
    """The default (or a named) input device through sounddevice/PortAudio."""

    realtime = True

    def __init__(self, device: str | int | None = None, block_s: float = 0.02) -> None:
        try:
            import sounddevice
        except OSError as exc:
            raise AudioSourceError(
                "microphone capture needs PortAudio: install it (apt install libportaudio2) "
                "or use --input FILE"
            ) from exc
        self._sd: Any = sounddevice
        try:
            info = sounddevice.query_devices(device, "input")
        except (ValueError, sounddevice.PortAudioError) as exc:
            raise AudioSourceError(f"no usable microphone ({exc}); use --input FILE") from exc
        self.device = device
        self.rate = int(info["default_samplerate"])
        self.channels = 1
        self.block = max(int(block_s * self.rate), 1)
        self._closed = False
        self._queue: asyncio.Queue[object] | None = None

    def close(self) -> None:
        self._closed = True
        if self._queue is not None:
            self._queue.put_nowait(_CLOSE)

    async def frames(self) -> AsyncIterator[AudioFrame]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[object] = asyncio.Queue()
        self._queue = queue
        converter = StreamConverter(self.rate, self.channels, "f32le")
        clock = _Clock()

        def callback(indata: Any, frames: int, when: Any, status: Any) -> None:
            if status:
                logger.warning("microphone: %s", status)
            call_in_loop(loop, queue.put_nowait, bytes(indata))

        try:
            stream = self._sd.RawInputStream(
                samplerate=self.rate,
                channels=self.channels,
                dtype="float32",
                blocksize=self.block,
                device=self.device,
                callback=callback,
            )
        except self._sd.PortAudioError as exc:
            raise AudioSourceError(f"cannot open the microphone: {exc}") from exc
        with stream:
            while not self._closed:
                item = await queue.get()
                if item is _CLOSE:
                    break
                samples = converter.convert(item)  # type: ignore[arg-type]
                if len(samples):
                    yield clock.frame(samples)
