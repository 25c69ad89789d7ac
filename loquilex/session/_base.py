"""The session protocol both kinds implement, and what they share."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections import deque
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from loquilex.protocol import (
    Envelope,
    ErrorCode,
    ErrorPayload,
    EventEmitter,
    EventType,
    SessionEndedPayload,
    SessionStartedPayload,
    SnapshotPayload,
    StatusPayload,
)
from loquilex.session._config import SessionConfig
from loquilex.session._eventlog import EventLog
from loquilex.session._transcript import TranscriptWriter, transcript_path, transcript_record
from loquilex.telemetry import Telemetry

#: Closed turns a SNAPSHOT carries (as many as the recent finals it redraws, at most).
_RECENT_TURNS = 50

__all__ = ["Session", "SessionBase", "SessionMirror", "SessionState", "ViewedSession"]

logger = logging.getLogger(__name__)

SessionState = Literal["starting", "running", "paused", "stopping", "ended", "error"]


class SessionMirror(Protocol):
    """Where a session's broadcast events also go. In cluster mode: the session's Redis
    stream, which viewers on every node read (loquilex/cluster)."""

    @property
    def id_stride(self) -> int:
        """The owner's event ids step by this, leaving room for other nodes' private ids."""

    @property
    def node_url(self) -> str:
        """Where this node is reached."""

    def publish(self, session: SessionBase, envelope: Envelope) -> None: ...


class ViewedSession(Protocol):
    """What a viewer's connection relies on. A local session, or (cluster mode) another
    node's session followed through Redis, whose ``owner_url`` says where it runs."""

    id: str
    kind: Literal["streaming", "subprocess"]
    config: SessionConfig
    log: EventLog
    emitter: EventEmitter
    accepts_audio: bool
    end_stats: dict[str, Any]
    model_id: str

    @property
    def owner_url(self) -> str | None: ...

    @property
    def stream_id(self) -> str: ...

    @property
    def ended(self) -> bool: ...

    async def stop(self, wait_s: float = 10.0) -> None: ...

    def push_audio(self, data: bytes, sequence: int | None) -> None: ...

    def snapshot(self) -> SnapshotPayload: ...

    def metrics(self) -> dict[str, Any]: ...


class Session(ViewedSession, Protocol):
    """What the manager and the routes rely on. Two implementations: in-process streaming
    and a ``loquilex live`` child process."""

    state: SessionState
    sender_key: str
    sender: object | None
    sender_client: str | None
    had_sender: bool
    unattended_since: float | None
    ended_mono: float | None
    transcript: TranscriptWriter

    async def start(self) -> None: ...

    async def pause(self) -> None: ...

    async def resume(self) -> None: ...

    async def finalize(self) -> None: ...

    def info(self) -> dict[str, Any]: ...


class SessionBase:
    """State, events (log + transcript) and lifecycle messages shared by both kinds."""

    kind: Literal["streaming", "subprocess"]
    accepts_audio = False
    #: None: it runs here (a remote session names its owner's URL).
    owner_url: str | None = None

    def __init__(
        self,
        config: SessionConfig,
        data_dir: Path,
        model_id: str,
        *,
        replay_events: int = 1000,
        replay_age_s: float = 300.0,
        io: Executor | None = None,
        telemetry: Telemetry | None = None,
        mirror: SessionMirror | None = None,
    ) -> None:
        self.id = str(uuid.uuid4())
        self.telemetry = telemetry
        self.config = config
        self.model_id = model_id
        self.mirror = mirror
        self.emitter = EventEmitter(stride=mirror.id_stride if mirror is not None else 1)
        self.log = EventLog(max_events=replay_events, max_age_s=replay_age_s)
        self.state: SessionState = "starting"
        self.created = time.time()
        self.ended_at: float | None = None
        self.ended_mono: float | None = None
        self.end_stats: dict[str, Any] = {}
        # Who may send audio (SPEC §9): the holder of this key, one connection at a time.
        self.sender_key = secrets.token_urlsafe(24)
        self.sender: object | None = None
        self.sender_client: str | None = None
        self.had_sender = False
        #: Monotonic time since when no sender has been connected (None while one is).
        self.unattended_since: float | None = time.monotonic()
        self.error: str | None = None
        self.transcript = TranscriptWriter(
            transcript_path(data_dir, self.id),
            {
                "session_id": self.id,
                "stream_id": self.stream_id,
                "model": model_id,
                "config": config.model_dump(mode="json"),
            },
            io,
        )
        self._turns: deque[dict[str, Any]] = deque(maxlen=_RECENT_TURNS)
        self._done = asyncio.Event()

    @property
    def stream_id(self) -> str:
        return self.emitter.stream_id

    @property
    def ended(self) -> bool:
        return self._done.is_set()

    async def wait_ended(self) -> None:
        await self._done.wait()

    def publish(self, type: EventType, payload: BaseModel, **kwargs: Any) -> Envelope:
        envelope = self.emitter.emit(type, payload, **kwargs)
        self.on_envelope(envelope)
        return envelope

    def on_envelope(self, envelope: Envelope) -> None:
        """Every broadcast event passes here: to the transcript if final, then to the log."""
        record = transcript_record(envelope)
        if record is not None:
            self.transcript.append(record)
        elif envelope.type == "SPEAKER_TURN":
            self._turns.append(envelope.payload)
        if self.telemetry is not None:
            self.telemetry.event(envelope)
        if self.mirror is not None:
            # First: its write to Redis then overlaps with the sends to local viewers.
            self.mirror.publish(self, envelope)
        self.log.publish(envelope)

    def recent_turns(self) -> list[dict[str, Any]]:
        """The last closed turns' SPEAKER_TURN payloads, oldest first (for SNAPSHOT)."""
        return list(self._turns)

    def status(self, stage: str, message: str) -> None:
        self.publish("STATUS", StatusPayload(stage=stage, message=message))  # type: ignore[arg-type]

    def announce_start(self) -> None:
        self.publish(
            "SESSION_STARTED",
            SessionStartedPayload(
                session_id=self.id,
                config={
                    **self.config.model_dump(mode="json"),
                    "model": self.model_id,
                    "kind": self.kind,
                },
            ),
        )

    def fail(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> None:
        self.error = message
        self.publish(
            "ERROR",
            ErrorPayload(
                code=code,
                message=message,
                recoverable=False,
                details=details or {},
            ),
        )
        self.status("error", message)
        self.state = "error"

    def finish(self, stats: dict[str, Any]) -> None:
        """SESSION_ENDED, close the transcript and wake everyone waiting for the end."""
        if self._done.is_set():
            return
        self.end_stats = {**stats, "segments": self.transcript.segments, "error": self.error}
        self.publish("SESSION_ENDED", SessionEndedPayload(stats=self.end_stats))
        if self.state != "error":
            self.state = "ended"
        self.ended_at = time.time()
        self.ended_mono = time.monotonic()
        self.transcript.close()
        self._done.set()

    def info(self) -> dict[str, Any]:
        return {
            "session_id": self.id,
            "stream_id": self.stream_id,
            "kind": self.kind,
            "state": self.state,
            "model": self.model_id,
            "config": self.config.model_dump(mode="json"),
            "created": self.created,
            "ended": self.ended_at,
            "error": self.error,
            "last_event_id": self.emitter.last_event_id,
            "subscribers": len(self.log.subscribers),
            "sender_connected": self.sender is not None,
            "transcript_segments": self.transcript.segments,
        }
