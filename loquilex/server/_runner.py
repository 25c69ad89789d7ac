"""Run the app under uvicorn with a graceful stop: on SIGTERM/SIGINT the sessions are
stopped first (open segments flushed as FINALIZED, SESSION_ENDED delivered to clients),
then uvicorn closes the connections. A second signal stops at once."""

from __future__ import annotations

import asyncio
import logging
import socket
from types import FrameType

import uvicorn
from fastapi import FastAPI

from loquilex.config import Settings
from loquilex.server._app import create_app

__all__ = ["serve"]

logger = logging.getLogger(__name__)

#: Time the sessions get to flush before uvicorn closes connections (SIGTERM → exit ≤ 10 s).
DRAIN_S = 7.0


class _GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app  # uvicorn's loaded_app is wrapped in its own middleware
        self._draining: asyncio.Task[None] | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        manager = getattr(self._app.state, "manager", None)
        if self._draining is not None or manager is None:
            super().handle_exit(sig, frame)
            return
        logger.info("stopping: flushing sessions")
        self._draining = asyncio.get_event_loop().create_task(self._drain(manager, sig))

    async def _drain(self, manager: object, sig: int) -> None:
        try:
            await asyncio.wait_for(manager.shutdown(DRAIN_S), DRAIN_S + 1)  # type: ignore[attr-defined]
            await asyncio.sleep(0.2)  # let the senders put SESSION_ENDED on the wire
        except TimeoutError:
            logger.warning("sessions did not stop in time")
        finally:
            super().handle_exit(sig, None)


def _listen(host: str, port: int, send_buffer: int) -> socket.socket:
    """The listening socket, with a fixed send buffer that accepted connections inherit.

    Linux otherwise grows a loopback send buffer to megabytes, which would hide a stalled
    client from the per-client queue (and its drop policy) behind seconds of stale events.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
    sock.bind((host, port))
    return sock


def serve(settings: Settings) -> None:
    sock = _listen(settings.server.host, settings.server.port, settings.server.socket_send_buffer)
    if settings.server.port == 0:
        # Port 0: the kernel chose one; the settings (and a cluster node's URL) say which.
        server = settings.server.model_copy(update={"port": sock.getsockname()[1]})
        settings = settings.model_copy(update={"server": server})
    app = create_app(settings)
    frame_limit = max(16 * 1024 * 1024, settings.server.max_frame_bytes * 4)
    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        ws_max_size=frame_limit,  # bigger than ours, so we can answer INVALID_MESSAGE
        ws_ping_interval=settings.server.ws_ping_interval_s,
        ws_ping_timeout=settings.server.ws_ping_timeout_s,
        ws_per_message_deflate=settings.server.ws_compression,
        timeout_graceful_shutdown=2,
    )
    _GracefulServer(config, app).run(sockets=[sock])
