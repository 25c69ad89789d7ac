"""Errors as JSON ``{detail}`` with the right status; a 500 never shows exception text."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError

from loquilex.errors import (
    AudioDecodeError,
    AudioSourceError,
    ConfigError,
    DeviceBusyError,
    LoquiLexError,
    MisdirectedError,
    ModelError,
    ModelNotFoundError,
    NotFoundError,
    NotSenderError,
    RateLimitedError,
    SessionError,
    UnsupportedError,
)
from loquilex.server._json import SafeJSONResponse
from loquilex.server._openai import OPENAI_PREFIX, openai_error

__all__ = ["install_error_handlers", "status_for"]

logger = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[LoquiLexError], int], ...] = (
    (MisdirectedError, 421),
    (NotFoundError, 404),
    (NotSenderError, 403),
    (RateLimitedError, 429),
    (DeviceBusyError, 409),
    (UnsupportedError, 422),
    (ModelNotFoundError, 422),
    (ModelError, 422),
    (AudioDecodeError, 422),
    (AudioSourceError, 422),
    (ConfigError, 422),
    (SessionError, 409),
)


def status_for(exc: LoquiLexError) -> int:
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoquiLexError)
    async def _known(request: Request, exc: LoquiLexError) -> SafeJSONResponse:
        if exc.__cause__ is not None:
            # The client gets our one clean line; the log keeps what the library said.
            logger.warning(
                "%s %s: %s (cause: %s)", request.method, request.url.path, exc, exc.__cause__
            )
        body: dict[str, str] = {"detail": str(exc)}
        if isinstance(exc, MisdirectedError):
            body |= {"owner_url": exc.owner_url, "node_id": exc.node_id}
        return SafeJSONResponse(body, status_code=status_for(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> SafeJSONResponse:
        if not request.url.path.startswith(OPENAI_PREFIX + "/"):
            # FastAPI's own answer, in a response that survives text no UTF-8 can hold.
            return SafeJSONResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)
        first = exc.errors()[0] if exc.errors() else {}
        where = [str(p) for p in first.get("loc", ()) if p not in ("body", "query")]
        param = where[0] if where else None
        return openai_error(
            400, f"{param or 'request'}: {first.get('msg', 'invalid')}", param=param
        )

    @app.exception_handler(Exception)
    async def _unknown(request: Request, exc: Exception) -> SafeJSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        if request.url.path.startswith(OPENAI_PREFIX + "/"):
            return openai_error(500, "internal server error", type="server_error")
        return SafeJSONResponse({"detail": "internal server error"}, status_code=500)
