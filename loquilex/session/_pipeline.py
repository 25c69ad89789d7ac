"""CaptionPipeline: audio source → StreamingASR (on the scheduler) → aggregator → sink."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import (
    AsyncRecognizer,
    DecodeScheduler,
    StreamingASR,
    UtteranceFinal,
    UtterancePartial,
)
from loquilex.audio import SAMPLE_RATE, AudioSource
from loquilex.conversation import Enricher, FinalExtras
from loquilex.protocol import Envelope, ErrorPayload, MetricsPayload
from loquilex.session._meter import SessionMeter

__all__ = ["CaptionPipeline", "EventSink"]

logger = logging.getLogger(__name__)

#: Receives every envelope the pipeline produces, in order, on the event loop.
EventSink = Callable[[Envelope], None]


class CaptionPipeline:
    """Runs one stream until its source ends or :meth:`stop` is called; the open utterance
    is always flushed as FINALIZED before :meth:`run` returns. Its :class:`SessionMeter`
    follows the stream's performance; with ``metrics_interval_s`` a METRICS event goes out
    that often while it runs. With an :class:`Enricher` (speakers, prosody, turns) each
    final is attributed before its FINALIZED is built, and the turn events it closes follow
    it at once."""

    def __init__(
        self,
        source: AudioSource,
        asr: StreamingASR,
        scheduler: DecodeScheduler,
        aggregator: PartialFinalAggregator,
        sink: EventSink,
        *,
        name: str = "",
        meter: SessionMeter | None = None,
        metrics_interval_s: float | None = None,
        enricher: Enricher | None = None,
    ) -> None:
        self.source = source
        self.enricher = enricher
        self._enrich_failed = False
        #: Wall time each final waited for its enrichment (what it adds to final latency).
        self.enrich_wait_s: collections.deque[float] = collections.deque(maxlen=2000)
        self.asr = asr
        self.aggregator = aggregator
        self.meter = meter or SessionMeter()
        self.metrics_interval_s = metrics_interval_s
        if self.meter.telemetry is not None:
            asr.on_decode = self.meter.telemetry.decoded
        self._scheduler = scheduler
        self._sink = sink
        self._name = name
        self._recognizer: AsyncRecognizer | None = None
        self._running = asyncio.Event()
        self._running.set()

    async def run(self) -> None:
        recognizer = AsyncRecognizer(self.asr, self._scheduler, name=self._name)
        self._recognizer = recognizer
        feeder = asyncio.create_task(self._feed(recognizer), name=f"feed-{self._name}")
        ticker = None
        if self.metrics_interval_s:
            ticker = asyncio.create_task(self._tick(self.metrics_interval_s), name="metrics")
        try:
            async for event in recognizer.events():
                extras = FinalExtras(None, {})
                if self.enricher is not None and isinstance(event, UtteranceFinal):
                    extras = await self._extras(self.enricher, event)
                elif self.enricher is not None and isinstance(event, UtterancePartial):
                    extras = FinalExtras(await self._partial_speaker(self.enricher, event), {})
                for envelope in self.aggregator.handle(
                    event,
                    speaker_id=extras.speaker_id,
                    audio_state=extras.audio_state,
                    split=extras.split,
                ):
                    self.meter.observe(envelope)
                    self._sink(envelope)
                    if self.enricher is not None:
                        for follower in self.enricher.after(envelope):
                            self._sink(follower)
            if self.enricher is not None:
                for follower in self.enricher.close():
                    self._sink(follower)
        finally:
            if ticker is not None:
                ticker.cancel()
            if not feeder.done():
                feeder.cancel()
            recognizer.close()
            # Re-raises what stopped the source (a microphone error, say).
            with contextlib.suppress(asyncio.CancelledError):
                await feeder

    async def _extras(self, enricher: Enricher, final: UtteranceFinal) -> FinalExtras:
        """Speaker and prosody of a final, computed off the loop. A failure costs the
        final its enrichment, never the final: one recoverable ENRICHMENT_FAILURE is sent."""
        began = time.monotonic()
        try:
            return await asyncio.to_thread(enricher.extras, final)
        except Exception as exc:
            self._enrichment_failed(exc, "a final")
            return FinalExtras(None, {})
        finally:
            self.enrich_wait_s.append(time.monotonic() - began)

    async def _partial_speaker(self, enricher: Enricher, partial: UtterancePartial) -> str | None:
        """A partial's tentative speaker: known, or looked up off the loop once per segment."""
        if not enricher.partial_speaker_due(partial):
            return enricher.partial_speaker(partial)
        try:
            return await asyncio.to_thread(enricher.partial_speaker, partial)
        except Exception as exc:
            self._enrichment_failed(exc, "a partial")
            return None

    def _enrichment_failed(self, exc: Exception, what: str) -> None:
        logger.error("enriching %s of %s failed", what, self._name or "stream", exc_info=exc)
        if self._enrich_failed:
            return
        self._enrich_failed = True
        self._sink(
            self.aggregator.emitter.emit(
                "ERROR",
                ErrorPayload(
                    code="ENRICHMENT_FAILURE",
                    message=f"speaker/prosody enrichment failed ({type(exc).__name__}); "
                    "captions go on without it",
                    recoverable=True,
                ),
            )
        )

    async def _feed(self, recognizer: AsyncRecognizer) -> None:
        try:
            async for frame in self.source.frames():
                if not self._running.is_set():
                    if self.source.realtime:
                        continue  # live audio while paused is not transcribed
                    await self._running.wait()
                recognizer.feed(frame.samples)
                if self.enricher is not None:
                    self.enricher.feed(frame.samples)
                self.meter.fed(len(frame.samples) / SAMPLE_RATE)
                if not self.source.realtime:
                    await recognizer.caught_up()
        finally:
            recognizer.end()

    async def _tick(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self._sink(self.aggregator.emitter.emit("METRICS", self.metrics()))

    def metrics(self) -> MetricsPayload:
        """The stream's performance budgets now (the METRICS payload)."""
        return self.meter.payload(self.stats())

    def finalize(self) -> None:
        """Force the open utterance to FINALIZED now (SIGUSR1, REST finalize)."""
        if self._recognizer is None:
            raise RuntimeError("pipeline is not running")
        self._recognizer.finalize()

    def pause(self) -> None:
        """Stop transcribing (the open utterance is finalized); live audio is ignored and a
        file waits, until :meth:`resume`."""
        self._running.clear()
        if self._recognizer is not None:
            self._recognizer.finalize()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        """End the audio; ``run`` returns once the open utterance is flushed."""
        self.source.close()

    def stats(self) -> dict[str, Any]:
        st = self.asr.stats
        return {
            "audio_s": round(st.audio_s, 3),
            "finals": st.finals,
            "partial_decodes": st.partial_decodes,
            "final_decodes": st.final_decodes,
            "skipped_partials": st.skipped_partials,
            "decode_s": round(st.decode_s, 3),
            "max_window_s": round(st.max_window_s, 3),
            "late_partials_dropped": self.aggregator.late_partials,
        } | (self.enricher.stats() if self.enricher is not None else {})
