"""``GET /metrics``: the server's Prometheus metrics (behind the token when one is set)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from loquilex.server._deps import ManagerDep
from loquilex.telemetry import CONTENT_TYPE

__all__ = ["metrics_router"]

metrics_router = APIRouter(tags=["health"])


@metrics_router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE: {}}, "description": "Prometheus text format"}},
)
async def prometheus_metrics(manager: ManagerDep) -> Response:
    """Sessions, audio, decode time, final and translation latency, events, drops, errors,
    client queues, the scheduler's backlog and the process (docs/metrics.md)."""
    return Response(manager.telemetry.exposition(), media_type=CONTENT_TYPE)
