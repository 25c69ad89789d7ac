"""``loquilex serve``: the HTTP/WebSocket server, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import argparse
import logging
import signal
from typing import Any

from loquilex._memory import allocator_in_use
from loquilex.cli._common import Context

__all__ = ["register"]

logger = logging.getLogger(__name__)

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def register(sub: Any) -> None:
    p = sub.add_parser("serve", help="run the captioning server")
    p.add_argument("--host", help="bind address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.add_argument("--model", help="model id or directory to load at startup")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"])
    p.add_argument(
        "--redis",
        metavar="URL",
        help="join a cluster through this Redis (cluster.redis_url; docs/scaling.md)",
    )
    p.add_argument("--node-url", help="this node's URL as other nodes reach it (cluster.node_url)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    from loquilex.server import serve

    server = ctx.settings.server
    logger.info(
        "serving on http://%s:%d (memory allocator: %s)",
        server.host,
        server.port,
        allocator_in_use(),
    )
    if server.host not in _LOOPBACK and not server.token():
        logger.warning(
            "listening on %s without an access token: anyone who reaches this port can start "
            "sessions and read transcripts; set LX_SERVER__AUTH_TOKEN",
            server.host,
        )
    # uvicorn re-raises the SIGTERM/SIGINT it caught once shutdown is complete, with the
    # handlers that were installed before it started. A graceful stop is a success for
    # us, so those handlers just note it and `serve` exits 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _note_stop)
    serve(ctx.settings)
    return 0


def _note_stop(signum: int, frame: object) -> None:
    logger.info("stopped by %s", signal.Signals(signum).name)
