"""LoquiLex as a library: a captioning stream in your own process, with callbacks.

    import asyncio
    from loquilex.stream import CaptionStream, StreamCallbacks

    class Printer(StreamCallbacks):
        def on_finalized(self, event):
            segment = event.payload["segment"]
            print(segment["speaker_id"], segment["text"])

    async def main():
        stream = await CaptionStream.open("meeting.wav", callbacks=Printer())
        await stream.wait()

    asyncio.run(main())

A stream reads a file, the microphone, or frames you push (:meth:`CaptionStream.push`), and
runs the same pipeline as the server: streaming ASR, finals, speakers and turns
(``diarize``), prosody, live translation (give it a translator). Every event is a SPEC
envelope; take them through :class:`StreamCallbacks`, or ``async for event in
stream.events()``, or both. A callback that raises is logged and reported to ``on_error``;
it never stops the stream. See docs/library.md.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import DecodeScheduler, StreamingASR, WhisperEngine
from loquilex.audio import AudioSource, FileSource, MicSource, PushSource
from loquilex.config import Settings, load_settings
from loquilex.conversation import Enricher, build_enricher
from loquilex.models import ModelStore, load_configured
from loquilex.mt import CadenceSettings, Translator
from loquilex.protocol import (
    Envelope,
    EventEmitter,
    EventType,
    SessionEndedPayload,
    SessionStartedPayload,
)
from loquilex.session import CaptionPipeline, Translations

__all__ = ["CaptionStream", "StreamCallbacks", "StreamError"]

logger = logging.getLogger(__name__)

#: Events kept for ``events()`` readers that fall behind (then the oldest PARTIAL goes).
_EVENT_QUEUE = 1000


@dataclass(frozen=True, slots=True)
class StreamError:
    """An ERROR event of the stream, or a callback that raised (``exception`` set)."""

    code: str
    message: str
    recoverable: bool
    exception: BaseException | None = None
    event: Envelope | None = None


class StreamCallbacks:
    """Override what you need; every method is optional and does nothing here."""

    def on_partial(self, event: Envelope) -> None:
        """A live, still changing caption (PARTIAL)."""

    def on_finalized(self, event: Envelope) -> None:
        """A final caption (FINALIZED), with its speaker when diarization is on."""

    def on_translation(self, event: Envelope) -> None:
        """A translation of a caption (TRANSLATION, partial or final)."""

    def on_speaker_turn(self, event: Envelope) -> None:
        """A closed turn: the run of finals by one speaker (SPEAKER_TURN)."""

    def on_semantic_update(self, event: Envelope) -> None:
        """Keywords, questions, actions and risk tags of a turn (SEMANTIC_UPDATE)."""

    def on_error(self, error: StreamError) -> None:
        """An ERROR event, or an exception one of these callbacks raised."""


_DISPATCH: dict[EventType, str] = {
    "PARTIAL": "on_partial",
    "FINALIZED": "on_finalized",
    "TRANSLATION": "on_translation",
    "SPEAKER_TURN": "on_speaker_turn",
    "SEMANTIC_UPDATE": "on_semantic_update",
}


class CaptionStream:
    """One running stream. Create it with :meth:`open`; it runs until its audio ends
    (a file's end, :meth:`end`) or :meth:`close`."""

    def __init__(
        self,
        source: AudioSource,
        pipeline: CaptionPipeline,
        emitter: EventEmitter,
        scheduler: DecodeScheduler,
        callbacks: StreamCallbacks | None,
        translations: Translations | None,
    ) -> None:
        self.id = str(uuid.uuid4())
        self._source = source
        self._pipeline = pipeline
        self._emitter = emitter
        self._scheduler = scheduler
        self._callbacks = callbacks
        self._translations = translations
        self._queues: list[asyncio.Queue[Envelope | None]] = []
        self._task: asyncio.Task[None] | None = None
        self._ended = asyncio.Event()
        self.callback_errors = 0

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    async def open(
        cls,
        source: str | Path | None = None,
        *,
        callbacks: StreamCallbacks | None = None,
        settings: Settings | None = None,
        model: str | None = None,
        diarize: bool | None = None,
        prosody: bool = False,
        translator: Translator | None = None,
        target_lang: str = "zh",
        realtime: bool = False,
        sample_rate: int = 16000,
    ) -> CaptionStream:
        """Start a stream. ``source``: an audio file, ``"mic"``, or None to push frames
        (PCM16 LE mono at ``sample_rate``, or float32 arrays). A file is read as fast as it
        can be transcribed unless ``realtime``. The model loads off the event loop."""
        settings = settings or load_settings()[0]
        audio: AudioSource
        if source is None:
            audio = PushSource(sample_rate)
        elif str(source) == "mic":
            audio = MicSource()
        else:
            audio = await asyncio.to_thread(FileSource, Path(source), realtime=realtime)
        asr = settings.asr
        store = ModelStore(settings.data_dir)
        path = await asyncio.to_thread(store.resolve, model or asr.model)
        whisper = await asyncio.to_thread(load_configured, path, asr)
        emitter = EventEmitter()
        enricher: Enricher | None = await asyncio.to_thread(
            build_enricher, emitter, settings.conversation, diarize=diarize, prosody=prosody
        )
        translations = None
        if translator is not None:
            mt = settings.mt
            translations = Translations(
                translator,
                target_lang,
                cadence=CadenceSettings.from_settings(mt),
            )
        scheduler = DecodeScheduler(workers=asr.workers)
        holder: list[CaptionStream] = []
        pipeline = CaptionPipeline(
            audio,
            StreamingASR(WhisperEngine(whisper, asr.language), settings.stream),
            scheduler,
            PartialFinalAggregator(emitter),
            lambda envelope: holder[0]._deliver(envelope),
            name="library",
            enricher=enricher,
        )
        stream = cls(audio, pipeline, emitter, scheduler, callbacks, translations)
        holder.append(stream)
        stream._start(str(source) if source is not None else "push", model or asr.model)
        return stream

    def _start(self, source: str, model: str | None) -> None:
        if self._translations is not None:
            self._translations.bind(self._publish)
            self._translations.start(asyncio.get_running_loop())
        config = {"source": source, "model": model, "translate": self._translations is not None}
        self._deliver(
            self._emitter.emit(
                "SESSION_STARTED", SessionStartedPayload(session_id=self.id, config=config)
            )
        )
        self._task = asyncio.create_task(self._run(), name=f"caption-stream-{self.id}")

    async def _run(self) -> None:
        try:
            await self._pipeline.run()
            if self._translations is not None:
                await self._translations.drain()
        finally:
            self._scheduler.close()
            if self._translations is not None:
                self._translations.close()
            stats = self._pipeline.stats()
            if self._translations is not None:
                stats |= self._translations.stats()
            self._deliver(self._emitter.emit("SESSION_ENDED", SessionEndedPayload(stats=stats)))
            self._ended.set()
            for queue in self._queues:
                queue.put_nowait(None)

    def _publish(self, type: EventType, payload: BaseModel, segment_id: str | None) -> Envelope:
        envelope = self._emitter.emit(type, payload, segment_id=segment_id)
        self._deliver(envelope)
        return envelope

    # -- events -----------------------------------------------------------------------------
    def _deliver(self, envelope: Envelope) -> None:
        if self._translations is not None:
            self._translations.observe(envelope)
        for queue in self._queues:
            if queue.qsize() >= _EVENT_QUEUE:
                _drop_oldest_partial(queue)
            queue.put_nowait(envelope)
        if self._callbacks is not None:
            self._call(envelope)

    def _call(self, envelope: Envelope) -> None:
        callbacks = self._callbacks
        assert callbacks is not None
        name = _DISPATCH.get(envelope.type)
        try:
            if name is not None:
                getattr(callbacks, name)(envelope)
            elif envelope.type == "ERROR":
                p = envelope.payload
                callbacks.on_error(
                    StreamError(p["code"], p["message"], p["recoverable"], event=envelope)
                )
        except Exception as exc:
            self.callback_errors += 1
            logger.exception("stream callback %s raised", name or "on_error")
            if name is None:
                return  # on_error itself raised: logged, and nowhere else to report it
            error = StreamError(
                "CALLBACK_ERROR",
                f"{name} raised {type(exc).__name__}: {exc}",
                True,
                exception=exc,
                event=envelope,
            )
            try:
                callbacks.on_error(error)
            except Exception:
                logger.exception("stream callback on_error raised while reporting %s", name)

    async def events(self) -> AsyncIterator[Envelope]:
        """Every event from now on (start iterating before you push audio to see them all),
        until SESSION_ENDED, which is the last one yielded."""
        queue: asyncio.Queue[Envelope | None] = asyncio.Queue()
        if self._ended.is_set():
            return
        self._queues.append(queue)
        try:
            while (envelope := await queue.get()) is not None:
                yield envelope
        finally:
            self._queues.remove(queue)

    # -- audio and control ------------------------------------------------------------------
    def push(self, audio: bytes | npt.NDArray[np.float32]) -> None:
        """Frames for a stream opened without a source: PCM16 LE bytes at the stream's
        sample rate, or a float32 array in [-1, 1]."""
        if not isinstance(self._source, PushSource):
            raise TypeError("push() is for streams opened without a source")
        if isinstance(audio, np.ndarray):
            audio = (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()
        self._source.push(audio)

    def finalize(self) -> None:
        """Make the open utterance final now."""
        self._pipeline.finalize()

    def end(self) -> None:
        """No more audio: the open utterance is finalized and the stream ends."""
        self._pipeline.stop()

    async def wait(self) -> None:
        """Until the stream has ended (its SESSION_ENDED delivered)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    async def close(self) -> None:
        """End the audio and wait for the stream to finish."""
        self.end()
        await self.wait()

    def render_context_for_llm(self) -> str:
        """The rolling context of recent turns as a transcript for a language model (empty
        without diarization)."""
        enricher = self._pipeline.enricher
        return enricher.render_context_for_llm() if enricher is not None else ""

    def stats(self) -> dict[str, Any]:
        return self._pipeline.stats()

    async def __aenter__(self) -> CaptionStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _drop_oldest_partial(queue: asyncio.Queue[Envelope | None]) -> None:
    """A slow ``events()`` reader loses its oldest PARTIAL, as a slow client would; with
    none queued nothing is dropped (finals are never lost to a slow reader)."""
    items: list[Envelope | None] = []
    while not queue.empty():
        items.append(queue.get_nowait())
    for index, item in enumerate(items):
        if item is not None and item.type == "PARTIAL":
            del items[index]
            break
    for item in items:
        queue.put_nowait(item)
