"""Errors as JSON ``{detail}`` with the right status; a 500 never shows exception text."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from loquilex.errors import (
    AudioDecodeError,
    AudioSourceError,
    ConfigError,
    DeviceBusyError,
    LoquiLexError,
    ModelError,
    ModelNotFoundError,
    NotFoundError,
    NotSenderError,
    RateLimitedError,
    SessionError,
    UnsupportedError,
)

__all__ = ["install_error_handlers", "status_for"]

logger = logging.getLogger(__name__)

_STATUS: tuple[tuple[type[LoquiLexError], int], ...] = (
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
    async def _known(request: Request, exc: LoquiLexError) -> JSONResponse:
        if exc.__cause__ is not None:
            # The client gets our one clean line; the log keeps what the library said.
            logger.warning(
                "%s %s: %s (cause: %s)", request.method, request.url.path, exc, exc.__cause__
            )
        return JSONResponse({"detail": str(exc)}, status_code=status_for(exc))

    @app.exception_handler(Exception)
    async def _unknown(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal server error"}, status_code=500)
