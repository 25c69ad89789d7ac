"""Per-session event log: replay buffer for resume, and one bounded queue per subscriber.

Backpressure (SPEC §2.5): each subscriber has a bounded queue. When it is full the oldest
PARTIAL goes first, then the oldest partial TRANSLATION, then the oldest SEMANTIC_UPDATE;
FINALIZED, final TRANSLATION, ERROR and lifecycle events are never dropped. The subscriber
learns of drops from one BUFFER_OVERFLOW error per overflow episode, queued when the first
drop happens and kept up to date until it is sent. A subscriber whose queue fills with
events that may not be dropped (it has stopped reading altogether) is disconnected at a hard
limit, so memory stays bounded; it can come back with RESUME_SESSION and the replay log.

Private events (a subscriber's SNAPSHOT, PONG, its errors) take ids from the stream's
counter too, so ids stay unique and increasing for every receiver; another subscriber sees
those ids as gaps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from loquilex.protocol import Envelope

__all__ = ["DROP_ORDER", "EventLog", "Subscriber"]

logger = logging.getLogger(__name__)

#: Event types a slow subscriber may lose, in the order they are given up (a TRANSLATION
#: only while it is a partial one).
DROP_ORDER = ("PARTIAL", "TRANSLATION", "SEMANTIC_UPDATE")


def droppable(envelope: Envelope) -> bool:
    if envelope.type == "TRANSLATION":
        return not envelope.payload.get("final", True)
    return envelope.type in DROP_ORDER


#: Builds the BUFFER_OVERFLOW error for (dropped_count, dropped_types, reuse this id or None).
NoticeFactory = Callable[[int, dict[str, int], int | None], Envelope]


class Subscriber:
    """One client's outgoing queue. ``offer`` never blocks; ``get`` is awaited by the
    client's own sender task."""

    def __init__(
        self,
        capacity: int,
        notice: NoticeFactory,
        hard_limit: int | None = None,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        self.capacity = capacity
        self._on_drop = on_drop
        self.hard_limit = hard_limit or capacity * 10
        self._queue: deque[Envelope] = deque()
        self._notice = notice
        self._pending_notice: Envelope | None = None
        self._episode: Counter[str] = Counter()
        self._ready = asyncio.Event()
        self.dropped_total: Counter[str] = Counter()
        self.overflowed = False  # hit the hard limit: to be disconnected
        self.closed = False

    def __len__(self) -> int:
        return len(self._queue)

    def offer(self, envelope: Envelope) -> None:
        if self.closed:
            return
        dropped = None
        if len(self._queue) >= self.capacity:
            dropped = self._drop_oldest()
            if dropped is None:
                if droppable(envelope):
                    self._record_drop(envelope.type)
                    return
                if len(self._queue) >= self.hard_limit:
                    logger.warning("subscriber stopped reading; disconnecting it")
                    self.overflowed = True
                    self.close()
                    return
        self._queue.append(envelope)
        if dropped is not None:
            # After the envelope: the notice's id is newer, and ids must reach the client
            # in increasing order.
            self._record_drop(dropped)
        self._ready.set()

    def _drop_oldest(self) -> str | None:
        for kind in DROP_ORDER:
            for index, queued in enumerate(self._queue):
                if queued.type == kind and droppable(queued):
                    del self._queue[index]
                    return kind
        return None

    def _record_drop(self, kind: str) -> None:
        self._episode[kind] += 1
        self.dropped_total[kind] += 1
        if self._on_drop is not None:
            self._on_drop(kind)
        count = sum(self._episode.values())
        if self._pending_notice is None:
            self._pending_notice = self._notice(count, dict(self._episode), None)
            self._queue.append(self._pending_notice)
        else:
            # Same id, same place in the queue, updated counts: still one notice per episode.
            updated = self._notice(count, dict(self._episode), self._pending_notice.event_id)
            for index, queued in enumerate(self._queue):
                if queued is self._pending_notice:
                    self._queue[index] = updated
                    break
            self._pending_notice = updated
        self._ready.set()

    def take_before(self, event_id: int) -> list[Envelope]:
        """Remove and return the queued envelopes at the head with ids below ``event_id``
        (a resuming client's private events, sent in their place among the replay)."""
        taken: list[Envelope] = []
        while self._queue and self._queue[0].event_id < event_id:
            envelope = self._queue.popleft()
            if envelope is self._pending_notice:
                self._pending_notice = None
                self._episode.clear()
            taken.append(envelope)
        return taken

    def close(self) -> None:
        self.closed = True
        self._ready.set()

    async def get(self) -> Envelope | None:
        """The next envelope to send, or None once closed and drained."""
        while not self._queue:
            if self.closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        envelope = self._queue.popleft()
        if envelope is self._pending_notice:
            self._pending_notice = None
            self._episode.clear()
        return envelope


@dataclass(frozen=True, slots=True)
class Replay:
    """What a resuming client gets: the events it missed, or the gap that lost some."""

    events: list[Envelope]
    gap: tuple[int, int] | None


class EventLog:
    """The stream's recent events (count- and age-bounded) and its live subscribers."""

    def __init__(
        self,
        *,
        max_events: int = 1000,
        max_age_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_events = max_events
        self.max_age_s = max_age_s
        self._clock = clock
        self._log: deque[tuple[float, Envelope]] = deque()
        self._trimmed_upto = 0
        self._subscribers: list[Subscriber] = []
        self.last_event_id = 0

    @property
    def subscribers(self) -> list[Subscriber]:
        return list(self._subscribers)

    def publish(self, envelope: Envelope) -> None:
        """Log a broadcast event and offer it to every subscriber. Never blocks."""
        self.last_event_id = max(self.last_event_id, envelope.event_id)
        self._log.append((self._clock(), envelope))
        self._trim()
        for subscriber in list(self._subscribers):
            subscriber.offer(envelope)
            if subscriber.closed:
                self._subscribers.remove(subscriber)

    def _trim(self) -> None:
        horizon = self._clock() - self.max_age_s
        while self._log and (len(self._log) > self.max_events or self._log[0][0] < horizon):
            _, old = self._log.popleft()
            self._trimmed_upto = old.event_id

    def subscribe(self, subscriber: Subscriber) -> None:
        self._subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        subscriber.close()
        if subscriber in self._subscribers:
            self._subscribers.remove(subscriber)

    def replay_after(self, last_event_id: int) -> Replay:
        """Logged events after ``last_event_id``; a gap if some of them were trimmed."""
        self._trim()
        if last_event_id < self._trimmed_upto:
            return Replay([], (last_event_id + 1, self._trimmed_upto))
        return Replay([e for _, e in self._log if e.event_id > last_event_id], None)

    def mark_trimmed(self, upto: int) -> None:
        """Events up to ``upto`` are gone (a log that starts part-way through a stream:
        a resume from before it gets a RESUME_GAP)."""
        self._trimmed_upto = max(self._trimmed_upto, upto)

    def events(self) -> list[Envelope]:
        return [e for _, e in self._log]

    def close(self) -> None:
        for subscriber in self._subscribers:
            subscriber.close()
        self._subscribers.clear()
