"""Cluster mode: ``POST /sessions`` runs the session on the least-loaded node with room.

The node that received the request asks the registry for the nodes with room, least
loaded first. If that is itself, it creates the session as a single server would; otherwise
it forwards the request to that node with the server's bearer token and a header that says
the request was placed already, and returns that node's answer (``node_url`` tells the
sender where to connect). A node that does not answer, or is full by now, is skipped.
Microphone sessions stay where they were asked for: the microphone is that machine's.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from loquilex.session import SessionConfig, SessionManager

__all__ = ["PLACED_HEADER", "place_session"]

logger = logging.getLogger(__name__)

#: Set on a forwarded ``POST /sessions``: create it here, don't place it again.
PLACED_HEADER = "X-LoquiLex-Placed"
#: Creating a session may load a model on the target node.
_FORWARD_TIMEOUT_S = 60.0


async def place_session(
    request: Request, config: SessionConfig, manager: SessionManager
) -> JSONResponse | None:
    """The target node's answer, or None to create the session on this node."""
    cluster = manager.cluster
    if cluster is None or config.source == "mic":
        return None
    try:
        candidates = await cluster.placement()
    except (RedisError, OSError) as exc:
        logger.warning("placement: Redis unreachable (%s); creating here", type(exc).__name__)
        return None
    headers = {PLACED_HEADER: cluster.node_id}
    token = manager.settings.server.token()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body: dict[str, Any] = config.model_dump(mode="json", exclude_unset=True)
    async with httpx.AsyncClient(timeout=_FORWARD_TIMEOUT_S) as client:
        for node in candidates:
            if node.id == cluster.node_id:
                return None
            try:
                response = await client.post(f"{node.url}/sessions", json=body, headers=headers)
            except httpx.HTTPError as exc:
                logger.warning("placement: node %s did not answer (%s)", node.id, exc)
                continue
            if response.status_code == 429:
                continue  # filled up since its last heartbeat
            logger.info("placement: session for %s placed on node %s", request.client, node.id)
            return JSONResponse(response.json(), status_code=response.status_code)
    return None
