"""Rate limits (SPEC §9): token buckets per connection, and the server's connection counts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["ConnectionCounts", "TokenBucket"]


class TokenBucket:
    """``rate`` units per second, up to ``burst`` at once. ``take`` never blocks: it says
    whether the units fit, and takes them only if they do."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._at = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now

    def take(self, amount: float = 1.0) -> bool:
        self._refill()
        if amount > self._tokens:
            return False
        self._tokens -= amount
        return True

    def wait_s(self, amount: float = 1.0) -> float:
        """How long until ``amount`` would fit (0 if it fits now, inf if it never can)."""
        self._refill()
        if amount > self.burst:
            return float("inf")
        return max(0.0, (amount - self._tokens) / self.rate)


@dataclass
class ConnectionCounts:
    """Open WebSockets, and those still waiting to authenticate, across the server."""

    max_open: int
    max_unauthenticated: int
    open: int = 0
    unauthenticated: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def refuse(self, why: str) -> None:
        self.refused[why] = self.refused.get(why, 0) + 1
