"""A session that runs on another node, as this node's viewers see it.

The node's one stream reader (loquilex/cluster/_io.py) follows the session's Redis stream
(``XREAD BLOCK`` from the last entry it has) and each event is published into a local
:class:`EventLog`. Every
viewer here subscribes to that log, exactly as to a local session's: per-connection queues
and backpressure stay on the node that serves the connection, replay and RESUME_GAP come
from the same code, and Redis carries each event once per node, not once per viewer.

The log starts with what the stream still holds (about ``server.replay_events`` events);
whatever Redis trimmed before that is a gap for a resume that asks for it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Literal

from pydantic import ValidationError
from redis.exceptions import RedisError

from loquilex._stats import summary_ms
from loquilex.cluster import _keys as keys
from loquilex.cluster._io import StreamReader
from loquilex.errors import MisdirectedError
from loquilex.protocol import Envelope, EventEmitter, SnapshotPayload
from loquilex.session import EventLog, SessionConfig

__all__ = ["RemoteEmitter", "RemoteSession"]

logger = logging.getLogger(__name__)

#: Recent finals and closed turns a SNAPSHOT carries, as on the owner.
_RECENT = 50


class RemoteEmitter(EventEmitter):
    """Ids for the private events this node sends its viewers of another node's session:
    inside the gap the owner leaves after each broadcast id, in this node's slot of it."""

    def __init__(self, stream_id: str, last_broadcast: Callable[[], int], slot: Callable[[], int]):
        super().__init__(stream_id)
        self._last_broadcast = last_broadcast
        self._slot = slot
        self._base = -1
        self._used = 0

    def _next_id(self) -> int:
        base = self._last_broadcast()
        if base != self._base:
            self._base, self._used = base, 0
        self._used += 1
        if self._used == keys.SLOT_SPAN:
            # 65,535 private events here between two of the session's own: only clients
            # that do nothing but PING a silent session get this far. Ids still increase on
            # every connection, but may now repeat one another node gives its own viewers.
            logger.warning("stream %s: this node's private ids ran out; reusing", self.stream_id)
        candidate = base + self._slot() * keys.SLOT_SPAN + self._used
        self._last_id = max(candidate, self._last_id + 1)
        return self._last_id


class RemoteSession:
    """Another node's session: viewable here, controlled and fed only on its owner."""

    accepts_audio = False
    sender: object | None = None
    sender_client: str | None = None
    had_sender = False
    unattended_since: float | None = None

    def __init__(
        self,
        redis: Any,
        reader: StreamReader,
        session_id: str,
        meta: dict[str, str],
        *,
        slot: Callable[[], int],
        replay_events: int,
        replay_age_s: float,
    ) -> None:
        self._redis: Any = redis  # redis.asyncio.Redis, replies decoded to str
        self._stream_reader = reader
        self.id = session_id
        self.kind: Literal["streaming", "subprocess"] = (
            "subprocess" if meta.get("kind") == "subprocess" else "streaming"
        )
        self.owner_id = meta.get("node_id", "")
        self.owner_url: str | None = meta.get("node_url", "")
        self.model_id = meta.get("model", "")
        self.config = SessionConfig.model_validate(json.loads(meta.get("config", "{}")))
        self._stream_id = meta["stream_id"]
        self.log = EventLog(max_events=replay_events, max_age_s=replay_age_s)
        self.emitter: EventEmitter = RemoteEmitter(
            self._stream_id, lambda: self.log.last_event_id, slot
        )
        self.state = "running"
        self.end_stats: dict[str, Any] = {}
        self.ended_mono: float | None = None
        self.idle_since: float | None = time.monotonic()
        self._recent: deque[dict[str, Any]] = deque(maxlen=_RECENT)
        self._live: dict[str, Any] | None = None
        self._translations: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._turns: deque[dict[str, Any]] = deque(maxlen=_RECENT)
        self._cursor = "0-0"
        self._following = False
        #: Seconds from each live event's creation on its owner to its arrival here.
        self._delays: deque[float] = deque(maxlen=1000)

    @property
    def stream_id(self) -> str:
        return self._stream_id

    @property
    def ended(self) -> bool:
        return self.ended_mono is not None

    # -- following the stream --------------------------------------------------------------
    async def load(self) -> None:
        """Read what the stream holds now, then follow it in the background."""
        key = keys.events(self.id)
        info: dict[str, Any] = {}
        with contextlib.suppress(RedisError):  # no stream yet: nothing trimmed either
            info = await self._redis.xinfo_stream(key)
        deleted = str(info.get("max-deleted-entry-id", "0-0"))
        self.log.mark_trimmed(keys.event_id_of(deleted))
        entries = await self._redis.xrange(key, min="-", max="+")
        self._deliver(entries)
        self._following = True
        if not self.ended:
            self._stream_reader.follow(key, self._cursor, self._deliver)

    def _deliver(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        """Entries in stream order (on the event loop); the stream is left at its end."""
        for entry_id, fields in entries:
            if self.ended:
                break
            self._apply(entry_id, fields)
        if self.ended and self._following:
            self._stream_reader.unfollow(keys.events(self.id))

    def _apply(self, entry_id: str, fields: dict[str, str]) -> None:
        self._cursor = entry_id
        try:
            envelope = Envelope.from_json(fields["e"])
        except (KeyError, ValidationError):
            logger.warning("session %s: skipping an unreadable entry %s", self.id, entry_id)
            return
        if envelope.event_id <= self.log.last_event_id:
            return  # already have it (a reader that started while the entry was written)
        if self._following:  # live, not the initial load
            self._delays.append(time.time() - envelope.ts_server / 1000)
        self._remember(envelope)
        self.log.publish(envelope)

    def _remember(self, envelope: Envelope) -> None:
        """What a SNAPSHOT needs, kept as the owner's aggregator keeps it."""
        payload = envelope.payload
        match envelope.type:
            case "PARTIAL":
                self._live = {"segment_id": envelope.segment_id, **payload["segment"]}
            case "FINALIZED":
                if self._live is not None and self._live["segment_id"] == envelope.segment_id:
                    self._live = None
                if payload["segment"]["text"]:
                    self._recent.append({"segment_id": envelope.segment_id, **payload["segment"]})
            case "TRANSLATION":
                source = payload["source_segment_id"]
                self._translations[source] = payload
                self._translations.move_to_end(source)
                while len(self._translations) > 2 * _RECENT:
                    self._translations.popitem(last=False)
            case "SPEAKER_TURN":
                self._turns.append(payload)
            case "STATUS":
                stage = str(payload.get("stage"))
                self.state = {"paused": "paused", "stopping": "stopping", "error": "error"}.get(
                    stage, "running"
                )
            case "SESSION_ENDED":
                self.end_stats = payload.get("stats", {})
                if self.state != "error":
                    self.state = "ended"
                self.ended_mono = time.monotonic()

    async def close(self) -> None:
        self._stream_reader.unfollow(keys.events(self.id))
        self.log.close()

    # -- what a viewer's connection asks of it ---------------------------------------------
    def snapshot(self) -> SnapshotPayload:
        ids = [f["segment_id"] for f in self._recent]
        if self._live is not None:
            ids.append(self._live["segment_id"])
        return SnapshotPayload(
            recent_finals=list(self._recent),
            live_partial=dict(self._live) if self._live is not None else None,
            last_event_id=self.log.last_event_id,
            translations=[self._translations[i] for i in ids if i in self._translations],
            turns=list(self._turns),
        )

    def misdirected(self, what: str) -> MisdirectedError:
        return MisdirectedError(
            f"{what}: this session runs on node {self.owner_id} at {self.owner_url}",
            owner_url=self.owner_url or "",
            node_id=self.owner_id,
        )

    def push_audio(self, data: bytes, sequence: int | None) -> None:
        raise self.misdirected("send its audio to its own node")

    async def stop(self, wait_s: float = 10.0) -> None:
        raise self.misdirected("end it on its own node")

    def metrics(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "last_event_id": self.log.last_event_id,
            "node_id": self.owner_id,
            "node_url": self.owner_url,
            "subscribers_here": len(self.log.subscribers),
            "arrival_delay_ms": summary_ms(self._delays),
        }
