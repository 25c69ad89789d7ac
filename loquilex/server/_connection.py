"""One WebSocket client of one session: its queue, its sender task, what it may send.

Each connection has its own bounded :class:`Subscriber` queue and sender task, so a slow
client never slows the pipeline or anyone else. Everything a client gets is an envelope
with an id from the session's counter: broadcast events from the log, and private ones
(its SNAPSHOT, PONG, errors) offered to its queue only.

A resume is read from the log at the client's own pace, not copied into its queue: the
queue could not hold a long replay without dropping, and ids must never go backwards
(SPEC §2.1). Until the reader has caught up with the log, only this connection's private
events wait in its queue; each is sent in its place among the logged ones by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from loquilex.config import Settings
from loquilex.errors import (
    AudioFormatError,
    InvalidMessage,
    LoquiLexError,
    NotSenderError,
    RateLimitedError,
    SequenceError,
    SessionError,
)
from loquilex.protocol import (
    AudioChunk,
    Authenticate,
    EndSession,
    Envelope,
    ErrorCode,
    ErrorPayload,
    Ping,
    PongPayload,
    ResumeSession,
    SessionEndedPayload,
    StartSession,
    parse_client_message,
)
from loquilex.server._limits import TokenBucket
from loquilex.session import Session, SessionManager, Subscriber, ViewedSession

__all__ = [
    "CLOSE_NORMAL",
    "CLOSE_POLICY",
    "CLOSE_TOO_BIG",
    "CLOSE_TRY_AGAIN",
    "Connection",
    "Message",
]

#: An ASGI WebSocket message.
Message = MutableMapping[str, Any]

logger = logging.getLogger(__name__)

#: Close codes (docs/api.md lists every close a client must handle).
CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_TRY_AGAIN = 1000, 1008, 1009, 1013
#: Logged events sent per look at the log while a resume catches up.
_REPLAY_BATCH = 64


class Connection:
    """One client of one session: a viewer, or the session's sender."""

    def __init__(
        self,
        websocket: WebSocket,
        session: ViewedSession,
        manager: SessionManager,
        settings: Settings,
    ) -> None:
        self.ws = websocket
        self.session = session
        self.manager = manager
        self.settings = settings
        self.sub: Subscriber | None = None
        self._sender: asyncio.Task[None] | None = None
        #: The session this connection sends audio to (a local one only; None: a viewer).
        self._sending_to: Session | None = None
        server = settings.server
        self._chunks = TokenBucket(server.max_chunks_per_s, server.max_chunks_per_s * 2)
        self._audio = TokenBucket(server.max_audio_rate, server.audio_burst_s)

    @property
    def client(self) -> str | None:
        return self.ws.client.host if self.ws.client is not None else None

    # -- who sends -----------------------------------------------------------------------------
    def claim(self, key: str | None) -> bool:
        """Become the session's sender with ``key``; on refusal say why and stay a viewer."""
        if self.session.owner_url is not None:
            self._elsewhere("send its audio")
            return False
        try:
            local = self.manager.get(self.session.id)
            self.manager.claim_sender(local, self, key, self.client)
        except RateLimitedError as exc:
            self.error("RATE_LIMITED", str(exc), **exc.details)
            return False
        except LoquiLexError as exc:
            self.error("UNAUTHORIZED", f"{exc}; this connection only views the session")
            return False
        self._sending_to = local
        return True

    def _elsewhere(self, what: str) -> None:
        """A sender on a node that does not run the session: where it should go instead."""
        owner = self.session.owner_url
        self.error(
            "SESSION_ERROR",
            f"this session runs on another node: {what} at {owner}; this connection only "
            "views the session",
            owner_url=owner,
        )

    def _may_send(self) -> bool:
        if self.session.owner_url is not None:
            self._elsewhere("send its audio and end it")
            return False
        if self._sending_to is not None and self._sending_to.sender is self:
            return True
        if self._sending_to is not None:
            self.error("UNAUTHORIZED", "another connection now sends this session's audio")
        else:
            self.error(
                "UNAUTHORIZED",
                "this connection only views the session: sending audio or ending it needs "
                "the session's sender key",
            )
        return False

    # -- outgoing -----------------------------------------------------------------------------
    def _notice(self, count: int, types: dict[str, int], reuse_id: int | None) -> Envelope:
        payload = ErrorPayload.model_validate(
            {
                "code": "BUFFER_OVERFLOW",
                "message": f"client too slow: {count} event(s) dropped",
                "recoverable": True,
                "details": {"dropped_count": count, "dropped_types": types},
                "dropped_count": count,
                "dropped_types": types,
            }
        )
        if reuse_id is None:
            self.manager.telemetry.private_error("BUFFER_OVERFLOW")
            return self.session.emitter.emit("ERROR", payload)
        # The notice still waiting in the queue, with up-to-date counts and its own id.
        return Envelope.build(
            event_id=reuse_id,
            stream_id=self.session.stream_id,
            type="ERROR",
            payload=payload,
            ts_server=int(time.time() * 1000),
        )

    def private(self, envelope: Envelope) -> None:
        if self.sub is not None:
            self.sub.offer(envelope)

    def emit_error(
        self, code: ErrorCode, message: str, *, recoverable: bool = True, **details: Any
    ) -> Envelope:
        self.manager.telemetry.private_error(code)
        return self.session.emitter.emit(
            "ERROR",
            ErrorPayload(
                code=code, message=message, recoverable=recoverable, details=details, **details
            ),
        )

    def error(
        self, code: ErrorCode, message: str, *, recoverable: bool = True, **details: Any
    ) -> None:
        self.private(self.emit_error(code, message, recoverable=recoverable, **details))

    def _snapshot(self) -> None:
        self.private(self.session.emitter.emit("SNAPSHOT", self.session.snapshot()))

    def _ended(self) -> None:
        """The session is over: say so (a copy of its SESSION_ENDED) so the client closes."""
        self.private(
            self.session.emitter.emit(
                "SESSION_ENDED", SessionEndedPayload(stats=self.session.end_stats)
            )
        )

    def subscribe(self, resume_from: int | None) -> None:
        """Attach a fresh queue: live events after a SNAPSHOT, or (``resume_from``) every
        logged event after that id first, read from the log by the sender task."""
        if self.sub is not None:
            self.session.log.unsubscribe(self.sub)
        dropped = self.manager.telemetry.dropped
        sub = Subscriber(
            self.settings.server.subscriber_queue,
            self._notice,
            on_drop=lambda kind: dropped.labels(kind).inc(),
        )
        self.sub = sub
        if resume_from is None:
            self.session.log.subscribe(sub)
            self._snapshot()
            if self.session.ended:
                self._ended()
        if self._sender is not None:
            self._sender.cancel()
        self._sender = asyncio.create_task(self._send(sub, resume_from), name="ws-sender")

    async def _catch_up(self, sub: Subscriber, cursor: int) -> bool:
        """Send the logged events after ``cursor`` until the log has no more, then join
        the live stream (no await between the last look and joining: nothing is missed).
        Returns False once SESSION_ENDED has been sent."""
        log = self.session.log
        while True:
            replay = log.replay_after(cursor)
            if replay.gap is not None:
                log.subscribe(sub)
                missing_from, missing_to = replay.gap
                self.error(
                    "RESUME_GAP",
                    "some events are no longer in the replay log",
                    missing_from=missing_from,
                    missing_to=missing_to,
                )
                self._snapshot()
                if self.session.ended:
                    self._ended()
                return True
            if not replay.events:
                log.subscribe(sub)
                if self.session.ended:
                    self._ended()
                return True
            for envelope in replay.events[:_REPLAY_BATCH]:
                for waiting in sub.take_before(envelope.event_id):
                    await self.ws.send_text(waiting.to_json())
                await self.ws.send_text(envelope.to_json())
                cursor = envelope.event_id
                if envelope.type == "SESSION_ENDED":
                    return False

    async def _send(self, sub: Subscriber, resume_from: int | None) -> None:
        try:
            if resume_from is not None and not await self._catch_up(sub, resume_from):
                await self.ws.close(code=CLOSE_NORMAL)
                return
            while (envelope := await sub.get()) is not None:
                await self.ws.send_text(envelope.to_json())
                if envelope.type == "SESSION_ENDED":
                    await self.ws.close(code=CLOSE_NORMAL)
                    return
            if sub.overflowed:
                notice = self.emit_error(
                    "BUFFER_OVERFLOW",
                    "client stopped reading; reconnect with RESUME_SESSION",
                    dropped_count=0,
                    dropped_types={},
                )
                await self.ws.send_text(notice.to_json())
                await self.ws.close(
                    code=CLOSE_TRY_AGAIN, reason="client too slow; reconnect with RESUME_SESSION"
                )
        except (WebSocketDisconnect, RuntimeError, OSError):
            logger.debug("sender stopped: client went away")

    # -- incoming -----------------------------------------------------------------------------
    async def handle_text(self, text: str) -> None:
        # Characters, not encoded bytes: equal for the ASCII that audio chunks are, and no
        # re-encoding of every frame; the transport's own limit bounds the rest.
        if len(text) > self.settings.server.max_frame_bytes:
            self._too_big()
            return
        try:
            message = parse_client_message(text)
        except InvalidMessage as exc:
            self.error("INVALID_MESSAGE", str(exc), **exc.details)
            return
        match message:
            case AudioChunk():
                try:
                    pcm = message.pcm()
                except InvalidMessage as exc:
                    self.error("INVALID_MESSAGE", str(exc))
                    return
                self.push(pcm, message.sequence)
            case EndSession():
                if self._may_send():
                    await self.session.stop()
            case Ping():
                self.private(
                    self.session.emitter.emit("PONG", PongPayload(timestamp=message.timestamp))
                )
            case ResumeSession():
                if message.stream_id != self.session.stream_id:
                    self.error("INVALID_MESSAGE", "stream_id does not belong to this session")
                    return
                self.subscribe(message.last_event_id)
                if message.sender_key is not None:
                    self.claim(message.sender_key)
            case Authenticate():
                pass  # already authenticated when the connection was admitted
            case StartSession():
                self.error("INVALID_MESSAGE", "this connection already has a session")

    def _too_big(self) -> None:
        self.error(
            "INVALID_MESSAGE",
            "frame too large",
            max_frame_bytes=self.settings.server.max_frame_bytes,
        )

    def handle_bytes(self, data: bytes) -> None:
        if len(data) > self.settings.server.max_frame_bytes:
            self._too_big()
            return
        self.push(data, None)

    def push(self, data: bytes, sequence: int | None) -> None:
        if self.session.owner_url is not None:
            self._elsewhere("send its audio")
            return
        if not self.session.accepts_audio:
            self.error("INVALID_MESSAGE", "this session does not take audio")
            return
        if not self._may_send() or not self._within_rate(data):
            return
        try:
            self.session.push_audio(data, sequence)
        except SequenceError as exc:
            self.error("SEQUENCE_ERROR", str(exc), sequence=sequence)
        except AudioFormatError as exc:
            self.error("INVALID_MESSAGE", str(exc))
        except RateLimitedError as exc:
            self.error("RATE_LIMITED", str(exc), sequence=sequence, **exc.details)
        except NotSenderError as exc:
            self.error("UNAUTHORIZED", str(exc))
        except SessionError as exc:
            self.error("SESSION_ERROR", str(exc), recoverable=False)

    def _within_rate(self, data: bytes) -> bool:
        cfg = self.session.config
        width = 2 if cfg.audio_format == "pcm_s16le" else 4
        seconds = len(data) / (width * cfg.channels * cfg.sample_rate)
        if not self._chunks.take():
            self.error(
                "RATE_LIMITED",
                "too many audio chunks per second; chunk refused",
                max_chunks_per_s=self.settings.server.max_chunks_per_s,
                retry_after_s=round(self._chunks.wait_s(), 3),
            )
            return False
        if not self._audio.take(seconds):
            self.error(
                "RATE_LIMITED",
                "audio arrives faster than real time allows; chunk refused",
                max_audio_rate=self.settings.server.max_audio_rate,
                retry_after_s=round(min(self._audio.wait_s(seconds), 3600.0), 3),
            )
            return False
        return True

    async def receive_loop(self, first: Message | None = None) -> None:
        message = first
        while True:
            if message is None:
                message = await self.ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            if message.get("bytes") is not None:
                self.handle_bytes(message["bytes"])
            elif message.get("text") is not None:
                await self.handle_text(message["text"])
            message = None
            if self.ws.client_state != WebSocketState.CONNECTED:
                return

    async def close(self) -> None:
        if self._sending_to is not None:
            self.manager.release_sender(self._sending_to, self)
        if self.sub is not None:
            self.session.log.unsubscribe(self.sub)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
