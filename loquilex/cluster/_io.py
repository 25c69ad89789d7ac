"""The two hot paths to Redis, each on a thread of its own with a blocking client.

A node's event loop is busy exactly when events flow: one event goes to every local viewer,
hundreds of sends. A Redis write or read done on that loop waits behind them (measured on
the 2-core machine with 250 local viewers: owner → other node p50 37 ms, p95 172 ms). On
their own threads, the write to a session's stream and the read on the other node go on
while the loop sends (the same setup afterwards: p50 7 ms, p95 77 ms; docs/scaling.md).

- :class:`Publisher` writes the node's sessions' events in order, in pipelined batches,
  and keeps them while Redis is away.
- :class:`StreamReader` follows every stream the node's viewers watch with one
  ``XREAD BLOCK`` over all of them, and hands each batch of entries to the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError, ResponseError

from loquilex._crossing import call_in_loop

__all__ = ["Op", "Publisher", "StreamReader"]

logger = logging.getLogger(__name__)

#: Writes waiting for Redis beyond this many: droppable ones (PARTIALs…) are given up first.
MAX_PENDING = 50_000
#: Operations per pipelined batch.
_BATCH = 500
#: How long one XREAD waits; also how soon a newly followed stream is read.
_BLOCK_MS = 200
#: Entries: (entry id, fields) as redis-py returns them with decoded responses.
Entries = list[tuple[str, dict[str, str]]]


@dataclass(slots=True)
class Op:
    """Commands for one pipelined batch; ``droppable`` ones may be given up while Redis is
    away and the backlog is long."""

    add: Callable[[Any], None]
    droppable: bool = False


class Publisher:
    """Writes queued operations to Redis in order; a failed batch is retried as it was
    (every write is idempotent: stream entries carry their event id)."""

    def __init__(self, client: Any, on_failure: Callable[[BaseException], None]) -> None:
        self._client = client  # redis.Redis, decoded responses
        self._on_failure = on_failure
        self._ops: deque[Op] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self.dropped = 0
        self._thread = threading.Thread(target=self._run, name="lx-cluster-publish", daemon=True)

    def __len__(self) -> int:
        return len(self._ops)

    def start(self) -> None:
        self._thread.start()

    def push(self, op: Op) -> None:
        with self._cond:
            self._ops.append(op)
            if len(self._ops) > MAX_PENDING:
                kept = deque(o for o in self._ops if not o.droppable)
                self.dropped += len(self._ops) - len(kept)
                self._ops = kept
            self._cond.notify()

    def flush(self, timeout_s: float) -> bool:
        """Wait until everything queued is written (False: not within ``timeout_s``)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._ops, timeout_s)

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(5)

    def _run(self) -> None:
        backoff = 0.1
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ops or self._stopping)
                if self._stopping:
                    return
                batch = [self._ops[i] for i in range(min(_BATCH, len(self._ops)))]
            try:
                pipe = self._client.pipeline(transaction=False)
                for op in batch:
                    op.add(pipe)
                results = pipe.execute(raise_on_error=False)
            except (RedisError, OSError) as exc:
                self._on_failure(exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            for result in results:
                # "equal or smaller than the target stream top item": written before.
                if isinstance(result, ResponseError) and "equal or smaller" not in str(result):
                    logger.warning("cluster: Redis refused a write: %s", result)
            with self._cond:
                for op in batch:  # the queue may have been thinned meanwhile: by identity
                    if self._ops and self._ops[0] is op:
                        self._ops.popleft()
                    elif op in self._ops:
                        self._ops.remove(op)
                self._cond.notify_all()


class StreamReader:
    """One ``XREAD BLOCK`` over every followed stream; each batch of new entries goes to
    its stream's callback on the event loop, in order."""

    def __init__(self, client: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._client = client  # redis.Redis, decoded responses
        self._loop = loop
        self._lock = threading.Lock()
        self._streams: dict[str, tuple[str, Callable[[Entries], None]]] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lx-cluster-read", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def follow(self, key: str, after: str, deliver: Callable[[Entries], None]) -> None:
        """Deliver ``key``'s entries after entry id ``after`` from now on."""
        with self._lock:
            self._streams[key] = (after, deliver)

    def unfollow(self, key: str) -> None:
        with self._lock:
            self._streams.pop(key, None)

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(5)

    def _run(self) -> None:
        failing = False
        while not self._stopping.is_set():
            with self._lock:
                cursors = {key: after for key, (after, _) in self._streams.items()}
            if not cursors:
                self._stopping.wait(_BLOCK_MS / 1000)
                continue
            try:
                batches = self._client.xread(cursors, block=_BLOCK_MS)
            except (RedisError, OSError) as exc:
                if not failing:
                    logger.warning("cluster: cannot read the followed streams (%s)", exc)
                failing = True
                self._stopping.wait(0.5)
                continue
            if failing:
                logger.info("cluster: reading the followed streams again")
                failing = False
            for key, entries in batches or []:
                with self._lock:
                    followed = self._streams.get(key)
                    if followed is None or not entries:
                        continue
                    self._streams[key] = (entries[-1][0], followed[1])
                call_in_loop(self._loop, followed[1], entries)
