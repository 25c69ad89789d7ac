"""WebSocket routes: ``/ws/{session_id}`` (view a session; its sender pushes audio) and
``/stream`` (START_SESSION → events on one connection).

Admission, in order: Host and Origin (403 at the handshake), the server's connection caps,
the token (a header or subprotocol at the handshake, else AUTHENTICATE first). Every close
the app makes after accepting is preceded by an ERROR with a code.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from loquilex.config import Settings
from loquilex.errors import InvalidMessage, LoquiLexError, RateLimitedError
from loquilex.protocol import (
    Authenticate,
    ErrorCode,
    ErrorPayload,
    EventEmitter,
    ResumeSession,
    StartSession,
    StatusPayload,
    parse_client_message,
)
from loquilex.server._connection import (
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    Connection,
    Message,
)
from loquilex.server._deps import WsLimitsDep, WsManagerDep, WsSettingsDep
from loquilex.server._limits import ConnectionCounts
from loquilex.server._security import bearer_token, check_request, token_ok
from loquilex.session import SessionConfig, SessionManager, is_session_id

__all__ = ["ws_router"]

logger = logging.getLogger(__name__)

ws_router = APIRouter()

#: How long a new connection waits for an optional RESUME_SESSION first.
_FIRST_MESSAGE_WAIT_S = 0.25
#: How long an unauthenticated connection has to send AUTHENTICATE.
_AUTH_WAIT_S = 5.0
#: Close code for an unknown session.
_CLOSE_UNKNOWN = 4404
#: Where a ``/ws`` client may put its sender key (browsers cannot set WebSocket headers).
_SENDER_KEY_HEADER = "x-loquilex-sender-key"


def _subprotocol_token(websocket: WebSocket) -> tuple[str | None, str | None]:
    """A token offered as the subprotocol ``bearer.TOKEN``, and the subprotocol to echo."""
    for proto in websocket.scope.get("subprotocols", []):
        if proto.startswith("bearer."):
            return proto[len("bearer.") :], proto
    return None, None


async def _send_error(websocket: WebSocket, code: ErrorCode, message: str) -> None:
    """An error before the connection belongs to a session: a throwaway stream's envelope."""
    manager: SessionManager = websocket.app.state.manager
    manager.telemetry.private_error(code)
    envelope = EventEmitter().emit(
        "ERROR", ErrorPayload(code=code, message=message, recoverable=code != "UNAUTHORIZED")
    )
    await websocket.send_text(envelope.to_json())


async def _refuse(websocket: WebSocket, code: ErrorCode, message: str, close_code: int) -> None:
    """ERROR first, then the close: a client always learns why."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await _send_error(websocket, code, message)
        await websocket.close(code=close_code, reason=message[:120])


class _Admission:
    """Holds one of the server's connection slots (and a pending-auth slot) while open."""

    def __init__(self, websocket: WebSocket, settings: Settings, counts: ConnectionCounts):
        self.ws = websocket
        self.settings = settings
        self.counts = counts
        self._open = False
        self._pending_auth = False

    async def enter(self) -> bool:
        reason = check_request("GET", self.ws.headers, self.settings, websocket=True)
        if reason is not None:
            logger.warning("refused WebSocket: %s", reason)
            await self.ws.close(code=CLOSE_POLICY, reason=reason)  # 403 at the handshake
            return False
        token, subprotocol = _subprotocol_token(self.ws)
        authenticated = token_ok(self.settings, [bearer_token(self.ws.headers), token])
        await self.ws.accept(subprotocol=subprotocol)
        counts = self.counts
        if counts.open >= counts.max_open:
            counts.refuse("connections")
            await _refuse(
                self.ws,
                "RATE_LIMITED",
                f"the server holds {counts.open} connections (server.max_connections)",
                CLOSE_TRY_AGAIN,
            )
            return False
        counts.open += 1
        self._open = True
        if authenticated:
            return True
        if counts.unauthenticated >= counts.max_unauthenticated:
            counts.refuse("unauthenticated")
            await _refuse(
                self.ws,
                "RATE_LIMITED",
                "too many connections are waiting to authenticate",
                CLOSE_TRY_AGAIN,
            )
            return False
        counts.unauthenticated += 1
        self._pending_auth = True
        try:
            return await self._authenticate()
        finally:
            counts.unauthenticated -= 1
            self._pending_auth = False

    async def _authenticate(self) -> bool:
        """Without a token from the handshake, the first message must be AUTHENTICATE."""
        message = await _first_message(self.ws, _AUTH_WAIT_S)
        parsed = None
        if message is not None and message.get("text") is not None:
            with contextlib.suppress(InvalidMessage):
                parsed = parse_client_message(message["text"])
        if isinstance(parsed, Authenticate) and token_ok(self.settings, [parsed.token]):
            return True
        await _refuse(self.ws, "UNAUTHORIZED", "a valid token is required", CLOSE_POLICY)
        return False

    def leave(self) -> None:
        if self._open:
            self.counts.open -= 1
            self._open = False


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


@ws_router.websocket("/ws/{session_id}")
async def ws_session(
    websocket: WebSocket,
    session_id: str,
    manager: WsManagerDep,
    settings: WsSettingsDep,
    counts: WsLimitsDep,
) -> None:
    """View a session's events. The holder of a push session's sender key (query
    ``sender_key``, header ``X-LoquiLex-Sender-Key``, or RESUME_SESSION ``sender_key``)
    sends its audio here."""
    admission = _Admission(websocket, settings, counts)
    conn: Connection | None = None
    try:
        if not await admission.enter():
            return
        try:
            session = await manager.find(session_id if is_session_id(session_id) else "")
        except LoquiLexError:
            await _refuse(websocket, "SESSION_ERROR", "unknown session", _CLOSE_UNKNOWN)
            return
        conn = Connection(websocket, session, manager, settings)
        key = websocket.query_params.get("sender_key") or websocket.headers.get(_SENDER_KEY_HEADER)
        first = await _first_message(websocket, _FIRST_MESSAGE_WAIT_S)
        resume = _as_resume(first)
        if resume is not None and resume.stream_id == session.stream_id:
            key = resume.sender_key or key
            first = None
        conn.subscribe(resume.last_event_id if resume is not None and first is None else None)
        if key is not None and (session.accepts_audio or session.owner_url is not None):
            conn.claim(key)  # after subscribing, so a refusal reaches the client
        await conn.receive_loop(first)
    except WebSocketDisconnect:
        pass
    finally:
        if conn is not None:
            await conn.close()
        admission.leave()


@ws_router.websocket("/stream")
async def ws_stream(
    websocket: WebSocket, manager: WsManagerDep, settings: WsSettingsDep, counts: WsLimitsDep
) -> None:
    """One connection: START_SESSION → events; AUDIO_CHUNK…; END_SESSION → SESSION_ENDED.
    RESUME_SESSION as the first message reattaches to a running session instead (as its
    sender with ``sender_key``, else as a viewer)."""
    admission = _Admission(websocket, settings, counts)
    conn: Connection | None = None
    try:
        if not await admission.enter():
            return
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
        admission.leave()


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
            session = await manager.find_stream(parsed.stream_id)
        except LoquiLexError as exc:
            await _send_error(websocket, "SESSION_ERROR", str(exc))
            return None
        conn = Connection(websocket, session, manager, settings)
        conn.subscribe(parsed.last_event_id)
        if parsed.sender_key is not None:
            conn.claim(parsed.sender_key)
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
    client = websocket.client.host if websocket.client is not None else None
    try:
        session = await manager.create(config, client=client)
    except RateLimitedError as exc:
        await _send_error(websocket, "RATE_LIMITED", str(exc))
        return None
    except LoquiLexError as exc:
        await _send_error(websocket, "SESSION_ERROR", str(exc))
        return None
    conn = Connection(websocket, session, manager, settings)
    conn.subscribe(0)  # from the start: SESSION_STARTED is its first event
    conn.claim(session.sender_key)
    # The key lets this client resume as the sender after a dropped connection.
    conn.private(
        session.emitter.emit(
            "STATUS",
            StatusPayload.model_validate(
                {
                    "stage": "operational",
                    "message": "this connection sends the session's audio",
                    "sender_key": session.sender_key,
                }
            ),
        )
    )
    return conn
