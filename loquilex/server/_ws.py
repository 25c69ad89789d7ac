"""WebSocket routes: ``/ws/{session_id}`` (subscribe; push audio) and ``/stream``.

Each connection has its own bounded :class:`Subscriber` queue and sender task, so a slow
client never slows the pipeline or anyone else. Everything a client gets is an envelope
with an id from the session's counter: broadcast events from the log, and private ones
(its SNAPSHOT, PONG, errors) offered to its queue only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import MutableMapping
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.websockets import WebSocketState

from loquilex.config import Settings
from loquilex.errors import (
    AudioFormatError,
    LoquiLexError,
    SequenceError,
    SessionError,
    SessionLimitError,
)
from loquilex.protocol import (
    AudioChunk,
    Authenticate,
    EndSession,
    Envelope,
    ErrorCode,
    ErrorPayload,
    EventEmitter,
    InvalidMessage,
    Ping,
    PongPayload,
    ResumeSession,
    StartSession,
    parse_client_message,
)
from loquilex.server._deps import WsManagerDep, WsSettingsDep
from loquilex.server._security import bearer_token, check_request, token_ok
from loquilex.session import Session, SessionConfig, SessionManager, Subscriber

__all__ = ["ws_router"]

logger = logging.getLogger(__name__)

ws_router = APIRouter()

Message = MutableMapping[str, Any]

#: How long a new connection waits for an optional RESUME_SESSION first.
_FIRST_MESSAGE_WAIT_S = 0.25
#: How long an unauthenticated connection has to send AUTHENTICATE.
_AUTH_WAIT_S = 10.0
#: Close codes.
_CLOSE_NORMAL, _CLOSE_POLICY, _CLOSE_TRY_AGAIN = 1000, 1008, 1013


def _subprotocol_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """A token offered as the subprotocol ``bearer.TOKEN``, and the subprotocol to echo."""
    for proto in websocket.scope.get("subprotocols", []):
        if proto.startswith("bearer."):
            return proto[len("bearer.") :], proto
    return None, None


async def _admit(websocket: WebSocket, settings: Settings) -> tuple[bool, bool]:
    """Origin/Host check before accepting (403 on refusal). Returns (accepted, authenticated)."""
    reason = check_request("GET", websocket.headers, settings, websocket=True)
    if reason is not None:
        logger.warning("refused WebSocket: %s (origin=%s)", reason, websocket.headers.get("origin"))
        await websocket.close(code=_CLOSE_POLICY, reason=reason)
        return False, False
    token, subprotocol = _subprotocol_token(websocket)
    authenticated = token_ok(settings, [bearer_token(websocket.headers), token])
    await websocket.accept(subprotocol=subprotocol)
    return True, authenticated


class Connection:
    """One client of one session."""

    def __init__(
        self,
        websocket: WebSocket,
        session: Session,
        manager: SessionManager,
        settings: Settings,
    ) -> None:
        self.ws = websocket
        self.session = session
        self.manager = manager
        self.settings = settings
        self.sub: Subscriber | None = None
        self._sender: asyncio.Task[None] | None = None
        self.sends_audio = False

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

    def error(
        self, code: ErrorCode, message: str, *, recoverable: bool = True, **details: Any
    ) -> None:
        self.private(
            self.session.emitter.emit(
                "ERROR",
                ErrorPayload(
                    code=code, message=message, recoverable=recoverable, details=details, **details
                ),
            )
        )

    def subscribe(self, resume_from: int | None, *, snapshot: bool = True) -> None:
        """Attach a fresh queue. Replay, gap notice and snapshot are queued before any live
        event can arrive (no await in between), so nothing is missed or duplicated."""
        if self.sub is not None:
            self.session.log.unsubscribe(self.sub)
        sub = Subscriber(self.settings.server.subscriber_queue, self._notice)
        log = self.session.log
        if resume_from is None:
            self.sub = sub
            log.subscribe(sub)
            if snapshot:
                self.private(self.session.emitter.emit("SNAPSHOT", self.session.snapshot()))
        else:
            replay = log.replay_after(resume_from)
            self.sub = sub
            log.subscribe(sub)
            if replay.gap is not None:
                missing_from, missing_to = replay.gap
                self.error(
                    "RESUME_GAP",
                    "some events are no longer in the replay log",
                    missing_from=missing_from,
                    missing_to=missing_to,
                )
                self.private(self.session.emitter.emit("SNAPSHOT", self.session.snapshot()))
            else:
                for envelope in replay.events:
                    sub.offer(envelope)
        if self._sender is not None:
            self._sender.cancel()
        self._sender = asyncio.create_task(self._send(sub), name="ws-sender")

    async def _send(self, sub: Subscriber) -> None:
        try:
            while (envelope := await sub.get()) is not None:
                await self.ws.send_text(envelope.to_json())
                if envelope.type == "SESSION_ENDED":
                    await self.ws.close(code=_CLOSE_NORMAL)
                    return
            if sub.overflowed:
                await self.ws.close(
                    code=_CLOSE_TRY_AGAIN, reason="client too slow; reconnect with RESUME_SESSION"
                )
        except (WebSocketDisconnect, RuntimeError, OSError):
            logger.debug("sender stopped: client went away")

    # -- incoming -----------------------------------------------------------------------------
    async def handle_text(self, text: str) -> None:
        if len(text.encode("utf-8")) > self.settings.server.max_frame_bytes:
            self.error(
                "INVALID_MESSAGE",
                "frame too large",
                max_frame_bytes=self.settings.server.max_frame_bytes,
            )
            return
        try:
            message = parse_client_message(text)
        except InvalidMessage as exc:
            self.error("INVALID_MESSAGE", str(exc), **exc.details)
            return
        match message:
            case AudioChunk():
                try:
                    self.push(message.pcm(), message.sequence)
                except InvalidMessage as exc:
                    self.error("INVALID_MESSAGE", str(exc))
            case EndSession():
                await self.session.stop()
            case Ping():
                self.private(
                    self.session.emitter.emit("PONG", PongPayload(timestamp=message.timestamp))
                )
            case ResumeSession():
                if message.stream_id != self.session.stream_id:
                    self.error("INVALID_MESSAGE", "stream_id does not belong to this session")
                else:
                    self.subscribe(message.last_event_id)
            case Authenticate():
                pass  # already authenticated when the connection was admitted
            case StartSession():
                self.error("INVALID_MESSAGE", "this connection already has a session")

    def handle_bytes(self, data: bytes) -> None:
        if len(data) > self.settings.server.max_frame_bytes:
            self.error(
                "INVALID_MESSAGE",
                "frame too large",
                max_frame_bytes=self.settings.server.max_frame_bytes,
            )
            return
        self.push(data, None)

    def push(self, data: bytes, sequence: int | None) -> None:
        if not self.session.accepts_audio:
            self.error("INVALID_MESSAGE", "this session does not take audio")
            return
        try:
            self.session.push_audio(data, sequence)
        except SequenceError as exc:
            self.error("SEQUENCE_ERROR", str(exc), sequence=sequence)
            return
        except AudioFormatError as exc:
            self.error("INVALID_MESSAGE", str(exc))
            return
        except SessionError as exc:
            self.error("SESSION_ERROR", str(exc), recoverable=False)
            return
        if not self.sends_audio:
            self.sends_audio = True
            self.manager.audio_attached(self.session)

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
        if self.sends_audio and not self.session.ended:
            self.manager.audio_detached(self.session)
        if self.sub is not None:
            self.session.log.unsubscribe(self.sub)
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender


async def _first_message(websocket: WebSocket, wait_s: float) -> Message | None:
    try:
        return await asyncio.wait_for(websocket.receive(), wait_s)
    except TimeoutError:
        return None


def _as_resume(message: Message | None) -> ResumeSession | None:
    if message is None or message.get("text") is None:
        return None
    try:
        parsed = parse_client_message(message["text"])
    except InvalidMessage:
        return None
    return parsed if isinstance(parsed, ResumeSession) else None


async def _send_error(websocket: WebSocket, code: ErrorCode, message: str) -> None:
    """An error before the connection belongs to a session: a throwaway stream's envelope."""
    envelope = EventEmitter().emit(
        "ERROR", ErrorPayload(code=code, message=message, recoverable=code != "UNAUTHORIZED")
    )
    await websocket.send_text(envelope.to_json())


async def _authenticate(websocket: WebSocket, settings: Settings, authenticated: bool) -> bool:
    """Without a token from the handshake, the first message must be AUTHENTICATE."""
    if authenticated:
        return True
    message = await _first_message(websocket, _AUTH_WAIT_S)
    parsed = None
    if message is not None and message.get("text") is not None:
        with contextlib.suppress(InvalidMessage):
            parsed = parse_client_message(message["text"])
    if isinstance(parsed, Authenticate) and token_ok(settings, [parsed.token]):
        return True
    await _send_error(websocket, "UNAUTHORIZED", "a valid token is required")
    await websocket.close(code=_CLOSE_POLICY, reason="unauthorized")
    return False


@ws_router.websocket("/ws/{session_id}")
async def ws_session(
    websocket: WebSocket, session_id: str, manager: WsManagerDep, settings: WsSettingsDep
) -> None:
    """Subscribe to a session's events; push sessions also take audio here."""
    try:
        session = manager.get(session_id)
    except LoquiLexError:
        await websocket.close(code=4404, reason="unknown session")
        return
    accepted, authenticated = await _admit(websocket, settings)
    if not accepted or not await _authenticate(websocket, settings, authenticated):
        return
    conn = Connection(websocket, session, manager, settings)
    try:
        first = await _first_message(websocket, _FIRST_MESSAGE_WAIT_S)
        resume = _as_resume(first)
        if resume is not None and resume.stream_id == session.stream_id:
            conn.subscribe(resume.last_event_id)
            first = None
        else:
            conn.subscribe(None)
        await conn.receive_loop(first)
    except WebSocketDisconnect:
        pass
    finally:
        await conn.close()


@ws_router.websocket("/stream")
async def ws_stream(websocket: WebSocket, manager: WsManagerDep, settings: WsSettingsDep) -> None:
    """One connection: START_SESSION → events; AUDIO_CHUNK…; END_SESSION → SESSION_ENDED.
    RESUME_SESSION as the first message reattaches to a running session instead."""
    accepted, authenticated = await _admit(websocket, settings)
    if not accepted or not await _authenticate(websocket, settings, authenticated):
        return
    conn: Connection | None = None
    try:
        while conn is None:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            conn = await _open_stream(websocket, message, manager, settings)
        await conn.receive_loop()
    except WebSocketDisconnect:
        pass
    finally:
        if conn is not None:
            await conn.close()


async def _open_stream(
    websocket: WebSocket, message: Message, manager: SessionManager, settings: Settings
) -> Connection | None:
    text = message.get("text")
    if text is None:
        await _send_error(websocket, "INVALID_MESSAGE", "send START_SESSION first")
        return None
    try:
        parsed = parse_client_message(text)
    except InvalidMessage as exc:
        await _send_error(websocket, "INVALID_MESSAGE", str(exc))
        return None
    if isinstance(parsed, ResumeSession):
        try:
            session = manager.by_stream(parsed.stream_id)
        except LoquiLexError as exc:
            await _send_error(websocket, "SESSION_ERROR", str(exc))
            return None
        conn = Connection(websocket, session, manager, settings)
        conn.subscribe(parsed.last_event_id)
        return conn
    if not isinstance(parsed, StartSession):
        await _send_error(
            websocket, "INVALID_MESSAGE", "start with START_SESSION or RESUME_SESSION"
        )
        return None
    try:
        config = SessionConfig.model_validate(
            {**parsed.config, "source": "push", "mode": "streaming"}
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        await _send_error(websocket, "INVALID_MESSAGE", f"invalid config {where}: {first['msg']}")
        return None
    try:
        session = await manager.create(config)
    except SessionLimitError as exc:
        await _send_error(websocket, "RATE_LIMITED", str(exc))
        return None
    except LoquiLexError as exc:
        await _send_error(websocket, "SESSION_ERROR", str(exc))
        return None
    conn = Connection(websocket, session, manager, settings)
    conn.subscribe(0)  # from the start: SESSION_STARTED is its first event
    return conn
