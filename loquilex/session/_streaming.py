"""StreamingSession: the caption pipeline in this process, on the shared model."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import AsrEngine, AsrFailure, DecodeScheduler, StreamConfig, StreamingASR
from loquilex.audio import AudioSource, AudioSourceError, FileSource, MicSource, PushSource
from loquilex.config import ConversationConfig
from loquilex.conversation import Enricher, build_enricher
from loquilex.errors import LoquiLexError, RateLimitedError, SequenceError, SessionError
from loquilex.protocol import Envelope, EventType, SnapshotPayload
from loquilex.session._base import SessionBase, SessionMirror
from loquilex.session._config import SessionConfig
from loquilex.session._meter import SessionMeter
from loquilex.session._pipeline import CaptionPipeline
from loquilex.session._translation import Translations
from loquilex.telemetry import Telemetry

__all__ = ["StreamingSession"]

logger = logging.getLogger(__name__)


class StreamingSession(SessionBase):
    """Audio from the microphone, a file on the server, or frames pushed over WebSocket."""

    kind: Literal["streaming", "subprocess"] = "streaming"

    def __init__(
        self,
        config: SessionConfig,
        *,
        engine: AsrEngine,
        scheduler: DecodeScheduler,
        stream_config: StreamConfig,
        data_dir: Path,
        model_id: str,
        replay_events: int = 1000,
        replay_age_s: float = 300.0,
        io: Executor | None = None,
        max_backlog_s: float = 30.0,
        translations: Translations | None = None,
        telemetry: Telemetry | None = None,
        mirror: SessionMirror | None = None,
        conversation: ConversationConfig | None = None,
    ) -> None:
        super().__init__(
            config,
            data_dir,
            model_id,
            replay_events=replay_events,
            replay_age_s=replay_age_s,
            io=io,
            telemetry=telemetry,
            mirror=mirror,
        )
        self.accepts_audio = config.source == "push"
        self.max_backlog_s = max_backlog_s
        self._io = io
        self._engine = engine
        self._scheduler = scheduler
        self._stream_config = stream_config
        self._source: AudioSource | None = None
        self._pipeline: CaptionPipeline | None = None
        self._task: asyncio.Task[None] | None = None
        self.last_sequence: int | None = None
        self.dropped_while_paused = 0
        self.translations = translations
        self.conversation = conversation or ConversationConfig()
        self.enricher: Enricher | None = None
        if translations is not None:
            translations.bind(self._publish_translation)

    def _make_source(self) -> AudioSource:
        cfg = self.config
        if cfg.source == "push":
            return PushSource(cfg.sample_rate, cfg.channels, cfg.audio_format)
        if cfg.source == "mic":
            return MicSource()
        return FileSource(Path(cfg.path or ""), realtime=cfg.realtime)

    async def start(self) -> None:
        # Opening a source can be slow (decoding a whole file): never on the event loop.
        loop = asyncio.get_running_loop()
        self._source = await loop.run_in_executor(self._io, self._make_source)
        self.enricher = await loop.run_in_executor(
            self._io,
            functools.partial(
                build_enricher,
                self.emitter,
                self.conversation,
                diarize=self.config.diarize,
                prosody=self.config.prosody,
            ),
        )
        asr = StreamingASR(self._engine, self._stream_config)
        aggregator = PartialFinalAggregator(self.emitter)
        self._pipeline = CaptionPipeline(
            self._source,
            asr,
            self._scheduler,
            aggregator,
            self.on_envelope,
            name=self.id,
            meter=SessionMeter(self.telemetry),
            metrics_interval_s=self.config.metrics_interval_s,
            enricher=self.enricher,
        )
        self.announce_start()
        if self.translations is not None:
            self.translations.start(asyncio.get_running_loop())
        self.state = "running"
        self.status("operational", "listening")
        self._task = asyncio.create_task(self._run(), name=f"session-{self.id}")

    async def _run(self) -> None:
        assert self._pipeline is not None
        cancelled = False
        try:
            await self._pipeline.run()
        except AsrFailure as exc:
            self.fail("ASR_FAILURE", str(exc))
        except AudioSourceError as exc:
            self.fail("SESSION_ERROR", str(exc))
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception as exc:
            logger.exception("session %s failed", self.id)
            self.fail("SESSION_ERROR", f"session failed ({type(exc).__name__})")
        finally:
            stats = self._pipeline.stats() | {"dropped_while_paused": self.dropped_while_paused}
            if self.translations is not None:
                if not cancelled:
                    # Every final's translation goes out before SESSION_ENDED.
                    await self.translations.drain()
                self.translations.close()
                stats |= self.translations.stats()
            self.finish(stats)

    def on_envelope(self, envelope: Envelope) -> None:
        super().on_envelope(envelope)
        if self.translations is not None:
            self.translations.observe(envelope)

    def _publish_translation(
        self, type: EventType, payload: BaseModel, segment_id: str | None
    ) -> Envelope:
        return self.publish(type, payload, segment_id=segment_id)

    @property
    def backlog_s(self) -> float:
        """Audio received but not yet transcribed."""
        if not isinstance(self._source, PushSource) or self._pipeline is None:
            return 0.0
        return self._source.queued_s + self._pipeline.asr.lag_s

    def push_audio(self, data: bytes, sequence: int | None) -> None:
        """Take one chunk from the audio client. Raises SequenceError, AudioFormatError,
        and RateLimitedError when the backlog is full (the chunk is not taken, and its
        sequence number may be sent again)."""
        source = self._source
        if not isinstance(source, PushSource):
            raise SessionError("this session does not take pushed audio")
        if self.ended or self.state == "stopping":
            raise SessionError("session has ended")
        if sequence is not None and self.last_sequence is not None:
            if sequence <= self.last_sequence:
                raise SequenceError(f"sequence {sequence} is not after {self.last_sequence}")
        backlog = self.backlog_s
        if self.state != "paused" and backlog + source.duration_s(data) > self.max_backlog_s:
            raise RateLimitedError(
                f"audio refused: {backlog:.1f} s already wait to be transcribed "
                f"(limit {self.max_backlog_s:.0f} s); send at real time",
                backlog_s=round(backlog, 2),
            )
        if sequence is not None:
            self.last_sequence = sequence
        if self.state == "paused":
            self.dropped_while_paused += len(data)
            return
        source.push(data)

    async def pause(self) -> None:
        if self._pipeline is None or self.ended:
            raise SessionError("session is not running")
        if self.state == "paused":
            return
        self._pipeline.pause()
        self.state = "paused"
        self.status("paused", "paused: audio is ignored until resume")

    async def resume(self) -> None:
        if self._pipeline is None or self.ended:
            raise SessionError("session is not running")
        if self.state != "paused":
            return
        self._pipeline.resume()
        self.state = "running"
        self.status("operational", "resumed")

    async def finalize(self) -> None:
        if self._pipeline is None or self.ended:
            raise SessionError("session is not running")
        self._pipeline.finalize()

    async def stop(self, wait_s: float = 10.0) -> None:
        """End the audio, flush the open segment as FINALIZED, SESSION_ENDED."""
        if self._pipeline is None or self._task is None:
            return
        if not self.ended:
            self.state = "stopping"
            self._pipeline.resume()
            self._pipeline.stop()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), wait_s)
        except TimeoutError:
            logger.warning("session %s did not stop in %.0f s; cancelling", self.id, wait_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, LoquiLexError):
                await self._task

    def snapshot(self) -> SnapshotPayload:
        if self._pipeline is None:
            return SnapshotPayload(
                recent_finals=[], live_partial=None, last_event_id=self.emitter.last_event_id
            )
        snapshot = self._pipeline.aggregator.snapshot()
        snapshot.turns = self.recent_turns()
        if self.translations is not None:
            ids = [f.get("segment_id") for f in snapshot.recent_finals]
            if snapshot.live_partial is not None:
                ids.append(snapshot.live_partial.get("segment_id"))
            snapshot.translations = self.translations.recent([i for i in ids if i])
        return snapshot

    def metrics(self) -> dict[str, Any]:
        pipeline = self._pipeline
        stats = pipeline.stats() if pipeline is not None else {}
        return {
            **stats,
            "lag_s": round(pipeline.asr.lag_s, 3) if pipeline is not None else 0.0,
            "state": self.state,
            "last_event_id": self.emitter.last_event_id,
            "subscribers": [
                {"queued": len(s), "dropped": dict(s.dropped_total)} for s in self.log.subscribers
            ],
            "scheduler_queue": self._scheduler.queue_depth,
            "backlog_s": round(self.backlog_s, 3),
            "budgets": pipeline.metrics().model_dump() if pipeline is not None else None,
        }
