"""The one way a worker thread hands something to the event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["call_in_loop"]

logger = logging.getLogger(__name__)


def call_in_loop(loop: asyncio.AbstractEventLoop, func: Callable[..., Any], *args: Any) -> None:
    """Schedule ``func(*args)`` on ``loop`` from any thread. A loop that has already closed
    (the server is shutting down) has nobody left to tell: the call is dropped and logged."""
    try:
        loop.call_soon_threadsafe(func, *args)
    except RuntimeError:
        logger.debug("event loop closed; dropped a call to %s", getattr(func, "__name__", func))
