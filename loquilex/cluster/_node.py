"""This server as one node of a cluster on Redis Streams (docs/scaling.md).

What the node does in Redis:

- **Registry.** ``lx:node:ID`` holds the node's id, URL, capacity and load, written every
  ``cluster.heartbeat_s`` and expiring ``ttl_s - heartbeat_s`` later; ``lx:nodes`` lists the
  nodes that joined. A registry slot (``lx:slot:K``) gives the node its range of private
  event ids (loquilex/cluster/_keys.py).
- **Its sessions' events.** Every broadcast event of a session it runs goes to the stream
  ``lx:s:ID:events`` (entry id ``0-EVENT_ID``, trimmed to about the replay size), and every
  final and final translation also to ``lx:s:ID:finals``, which is never trimmed: the
  transcript survives the node. One publisher task writes them in order, in pipelined
  batches; while Redis is away it keeps them and retries, and a repeated write is refused
  by Redis rather than duplicated.
- **Other nodes' deaths.** A node whose registry entry expired is dead. The first node to
  notice it takes ``lx:reap:ID`` and ends each of its running sessions on their streams with
  an ERROR and a SESSION_ENDED, so their viewers on every node learn of it within the TTL.
- **Other nodes' sessions**, for this node's viewers: :class:`RemoteSession`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from redis import Redis as SyncRedis
from redis.asyncio import Redis
from redis.exceptions import RedisError

from loquilex import __version__
from loquilex.cluster import _keys as keys
from loquilex.cluster._io import Op, Publisher, StreamReader
from loquilex.cluster._view import RemoteSession
from loquilex.config import Settings
from loquilex.protocol import Envelope, ErrorPayload, SessionEndedPayload
from loquilex.session import Session, SessionBase, transcript_record

__all__ = ["ClusterNode", "NodeInfo"]

logger = logging.getLogger(__name__)

#: A session's event stream is kept this long after it ended (its finals stay).
_ENDED_STREAM_S = 3600
#: A remote session nobody here has viewed for this long is no longer followed.
_VIEW_IDLE_S = 60.0
#: Event types whose publication also refreshes the session's info in the registry.
_LIFECYCLE = frozenset({"SESSION_STARTED", "STATUS", "SESSION_ENDED", "ERROR"})
_DROPPABLE = frozenset({"PARTIAL", "SEMANTIC_UPDATE", "METRICS"})


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """One node as the registry describes it."""

    id: str
    url: str
    capacity: int
    sessions: int
    slot: int
    started: float
    version: str

    @property
    def load(self) -> float:
        return self.sessions / self.capacity if self.capacity else 1.0

    @property
    def has_room(self) -> bool:
        return self.sessions < self.capacity


class ClusterNode:
    """The node's Redis side: registry, publisher, reaper of dead nodes, remote views."""

    def __init__(
        self,
        settings: Settings,
        node_url: str,
        local_sessions: Callable[[], Iterable[Session]],
        redis: Any = None,
    ) -> None:
        cluster = settings.cluster
        url = cluster.url()
        if url is None:
            raise ValueError("cluster mode needs cluster.redis_url")
        self.settings = settings
        self.redis_display = keys.redacted(url)
        #: redis.asyncio.Redis with decode_responses: every reply is str (its stubs say
        #: bytes | str, hence Any here).
        self.redis: Any = redis or Redis.from_url(
            url, decode_responses=True, socket_timeout=10, socket_connect_timeout=2
        )
        # The hot paths run on threads with a blocking client (loquilex/cluster/_io.py).
        self._blocking = SyncRedis.from_url(
            url, decode_responses=True, socket_timeout=10, socket_connect_timeout=2
        )
        self._publisher = Publisher(self._blocking, lambda exc: self._set_redis(False, exc))
        self._reader: StreamReader | None = None
        self.node_id = cluster.node_id or f"node-{secrets.token_hex(4)}"
        self.url = node_url.rstrip("/")
        self.capacity = cluster.capacity or settings.server.max_sessions
        self.heartbeat_s = cluster.heartbeat_s
        self.ttl_s = max(cluster.ttl_s, 2 * cluster.heartbeat_s)
        self.slot = -1
        self.started = time.time()
        self.redis_ok = False
        self._local_sessions = local_sessions
        self._registered: set[str] = set()
        self._views: dict[str, RemoteSession] = {}
        self._view_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self.reaped_nodes: list[str] = []

    @property
    def id_stride(self) -> int:
        return keys.ID_STRIDE

    @property
    def node_url(self) -> str:
        return self.url

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Join: a first heartbeat if Redis answers (else the heartbeat task keeps trying),
        then the heartbeat and publisher tasks."""
        logger.info(
            "cluster mode: node %s at %s, Redis %s", self.node_id, self.url, self.redis_display
        )
        await self._beat()
        self._publisher.start()
        self._reader = StreamReader(self._blocking, asyncio.get_running_loop())
        self._reader.start()
        self._tasks = [
            asyncio.create_task(self._heartbeat_forever(), name="cluster-heartbeat"),
        ]

    async def close(self, flush_s: float = 3.0) -> None:
        """Leave: what is still queued goes out (within ``flush_s``), then the node's
        registry entry and slot are removed, so nobody mistakes the leave for a death."""
        if self.redis_ok:
            await asyncio.to_thread(self._publisher.flush, flush_s)
        await asyncio.to_thread(self._publisher.stop)
        if self._reader is not None:
            await asyncio.to_thread(self._reader.stop)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for view in list(self._views.values()):
            await view.close()
        self._views.clear()
        with contextlib.suppress(RedisError, OSError):
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.srem(keys.NODES, self.node_id)
                pipe.delete(keys.node(self.node_id))
                if self.slot >= 0:
                    pipe.delete(keys.slot(self.slot))
                await pipe.execute()
        await self.redis.aclose()
        self._blocking.close()

    def status(self) -> dict[str, Any]:
        """For ``/healthz``."""
        return {
            "node_id": self.node_id,
            "node_url": self.url,
            "redis": "ok" if self.redis_ok else "unreachable",
            "pending_writes": len(self._publisher),
            "writes_given_up": self._publisher.dropped,
            "viewed_remote_sessions": len(self._views),
        }

    # -- registry -----------------------------------------------------------------------------
    def _local_running(self) -> list[Session]:
        return [s for s in self._local_sessions() if not s.ended]

    def info(self) -> NodeInfo:
        return NodeInfo(
            id=self.node_id,
            url=self.url,
            capacity=self.capacity,
            sessions=len(self._local_running()),
            slot=self.slot,
            started=self.started,
            version=__version__,
        )

    async def _heartbeat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await self._beat()

    async def _beat(self) -> None:
        try:
            await self._claim_slot()
            expiry_ms = int((self.ttl_s - self.heartbeat_s) * 1000)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.set(keys.node(self.node_id), json.dumps(asdict(self.info())), px=expiry_ms)
                pipe.sadd(keys.NODES, self.node_id)
                for session in self._local_running():
                    pipe.hset(keys.meta(session.id), "info", json.dumps(session.info()))
                await pipe.execute()
            await self._reap_dead()
            await self._forget_expired()
        except (RedisError, OSError) as exc:
            self._set_redis(False, exc)
            return
        self._set_redis(True)

    def _set_redis(self, ok: bool, exc: BaseException | None = None) -> None:
        if ok and not self.redis_ok:
            logger.info(
                "cluster: Redis %s reachable; node %s registered", self.redis_display, self.node_id
            )
        elif not ok and self.redis_ok:
            logger.error(
                "cluster: Redis %s unreachable (%s); sessions go on here, events wait",
                self.redis_display,
                type(exc).__name__ if exc else "error",
            )
        elif not ok and self.slot < 0:
            logger.warning("cluster: Redis %s not reachable yet", self.redis_display)
        self.redis_ok = ok

    async def _claim_slot(self) -> None:
        """Keep this node's slot (or take the lowest free one) for another TTL."""
        expiry_ms = int(self.ttl_s * 1000) * 2
        if self.slot >= 0:
            owner = await self.redis.get(keys.slot(self.slot))
            if owner in (None, self.node_id):
                await self.redis.set(keys.slot(self.slot), self.node_id, px=expiry_ms)
                return
            logger.warning("cluster: slot %d was taken over; choosing another", self.slot)
        for index in range(keys.MAX_SLOTS):
            if await self.redis.set(keys.slot(index), self.node_id, nx=True, px=expiry_ms):
                self.slot = index
                return
        raise RuntimeError(f"all {keys.MAX_SLOTS} cluster slots are taken")

    async def nodes(self) -> list[NodeInfo]:
        """The live nodes, this one included."""
        ids = sorted(await self.redis.smembers(keys.NODES))
        if not ids:
            return []
        raw = await self.redis.mget([keys.node(i) for i in ids])
        out = []
        for entry in raw:
            if entry is not None:
                with contextlib.suppress(ValueError, TypeError):
                    out.append(NodeInfo(**json.loads(entry)))
        return out

    async def placement(self) -> list[NodeInfo]:
        """Nodes with room, least loaded first (this node first among equals)."""
        nodes = [n for n in await self.nodes() if n.has_room]
        return sorted(nodes, key=lambda n: (n.load, n.sessions, n.id != self.node_id, n.id))

    async def _forget_expired(self) -> None:
        """Sessions past their transcript retention leave the cluster's list."""
        gone = await self.redis.zrangebyscore(keys.ENDED, 0, time.time())
        if gone:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.zrem(keys.SESSIONS, *gone)
                pipe.zrem(keys.ENDED, *gone)
                await pipe.execute()

    # -- failure ------------------------------------------------------------------------------
    async def _reap_dead(self) -> None:
        ids = [i for i in await self.redis.smembers(keys.NODES) if i != self.node_id]
        if not ids:
            return
        alive = await self.redis.mget([keys.node(i) for i in ids])
        for node_id, entry in zip(ids, alive, strict=True):
            if entry is None and await self.redis.set(
                keys.reaping(node_id), self.node_id, nx=True, px=30_000
            ):
                await self._end_sessions_of(node_id)

    async def _end_sessions_of(self, node_id: str) -> None:
        message = f"node {node_id} stopped answering; its sessions ended"
        ended = 0
        for session_id in await self.redis.smembers(keys.node_sessions(node_id)):
            meta = await self.redis.hgetall(keys.meta(session_id))
            info = json.loads(meta.get("info", "{}"))
            if not meta or info.get("state") in ("ended", "error"):
                continue
            await self._end_lost_session(session_id, meta, info, message)
            ended += 1
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.srem(keys.NODES, node_id)
            pipe.delete(keys.node_sessions(node_id))
            await pipe.execute()
        self.reaped_nodes.append(node_id)
        logger.warning("cluster: %s (%d session(s) ended for their viewers)", message, ended)

    async def _end_lost_session(
        self, session_id: str, meta: dict[str, str], info: dict[str, Any], message: str
    ) -> None:
        """ERROR and SESSION_ENDED on a dead node's session's stream, with ids after its
        last one, and the registry's info says it ended."""
        key = keys.events(session_id)
        last = await self.redis.xrevrange(key, count=1)
        last_id = keys.event_id_of(last[0][0]) if last else 0
        now_ms = int(time.time() * 1000)
        segments = int(info.get("transcript_segments") or 0)
        error = Envelope.build(
            event_id=last_id + keys.ID_STRIDE,
            stream_id=meta["stream_id"],
            type="ERROR",
            payload=ErrorPayload(
                code="SESSION_ERROR",
                message=message,
                recoverable=False,
                details={"node_id": meta.get("node_id"), "node_lost": True},
            ),
            ts_server=now_ms,
        )
        ended = Envelope.build(
            event_id=last_id + 2 * keys.ID_STRIDE,
            stream_id=meta["stream_id"],
            type="SESSION_ENDED",
            payload=SessionEndedPayload(
                stats={"segments": segments, "error": message, "node_lost": True}
            ),
            ts_server=now_ms,
        )
        info |= {"state": "error", "error": message, "ended": time.time()}
        async with self.redis.pipeline(transaction=False) as pipe:
            for envelope in (error, ended):
                pipe.xadd(key, {"e": envelope.to_json()}, id=keys.entry_id(envelope.event_id))
            pipe.hset(keys.meta(session_id), "info", json.dumps(info))
            self._expire_ended(pipe, session_id)
            await pipe.execute()

    def _expire_ended(self, pipe: Any, session_id: str) -> None:
        """An ended session's events go within the hour; its finals and record after the
        transcript retention (the sorted set of sessions is pruned by the heartbeat)."""
        retention = int(self.settings.cluster.transcript_retention_s)
        pipe.expire(keys.events(session_id), min(_ENDED_STREAM_S, retention))
        pipe.expire(keys.finals(session_id), retention)
        pipe.expire(keys.meta(session_id), retention)
        pipe.zadd(keys.ENDED, {session_id: time.time() + retention})

    # -- this node's sessions' events ---------------------------------------------------------
    def publish(self, session: SessionBase, envelope: Envelope) -> None:
        """Queue a broadcast event of a local session for its Redis stream (never blocks)."""
        if session.id not in self._registered:
            self._registered.add(session.id)
            self._publisher.push(Op(self._register_op(session)))
        droppable = envelope.type in _DROPPABLE
        self._publisher.push(Op(self._event_op(session, envelope), droppable=droppable))

    def _register_op(self, session: SessionBase) -> Callable[[Any], None]:
        fields = {
            "node_id": self.node_id,
            "node_url": self.url,
            "stream_id": session.stream_id,
            "kind": session.kind,
            "model": session.model_id,
            "config": session.config.model_dump_json(),
            "header": json.dumps(session.transcript.header, ensure_ascii=False),
            "info": json.dumps(session.info()),
        }
        created = session.created

        def add(pipe: Any) -> None:
            pipe.hset(keys.meta(session.id), mapping=fields)
            pipe.zadd(keys.SESSIONS, {session.id: created})
            pipe.set(keys.stream(session.stream_id), session.id)
            pipe.sadd(keys.node_sessions(self.node_id), session.id)

        return add

    def _event_op(self, session: SessionBase, envelope: Envelope) -> Callable[[Any], None]:
        body = envelope.to_json()
        record = transcript_record(envelope)
        entry = keys.entry_id(envelope.event_id)
        info = None
        if envelope.type in _LIFECYCLE:
            info = session.info()
            if envelope.type == "SESSION_ENDED":
                info |= {"state": "error" if session.error else "ended", "ended": time.time()}
        maxlen = self.settings.server.replay_events

        def add(pipe: Any) -> None:
            if record is not None:
                line = json.dumps(record, ensure_ascii=False)
                pipe.xadd(keys.finals(session.id), {"r": line}, id=entry)
            pipe.xadd(keys.events(session.id), {"e": body}, id=entry, maxlen=maxlen)
            if info is not None:
                pipe.hset(keys.meta(session.id), "info", json.dumps(info))
            if envelope.type == "SESSION_ENDED":
                self._expire_ended(pipe, session.id)

        return add

    # -- other nodes' sessions ----------------------------------------------------------------
    async def view(self, session_id: str) -> RemoteSession | None:
        """Another node's session, followed here while someone views it; None if unknown."""
        view = self._views.get(session_id)
        if view is not None:
            view.idle_since = None
            return view
        async with self._view_lock:
            view = self._views.get(session_id)
            if view is None:
                meta = await self.redis.hgetall(keys.meta(session_id))
                if not meta or meta.get("node_id") == self.node_id:
                    return None
                server = self.settings.server
                assert self._reader is not None, "start() first"
                view = RemoteSession(
                    self.redis,
                    self._reader,
                    session_id,
                    meta,
                    slot=lambda: max(self.slot, 0),
                    replay_events=server.replay_events,
                    replay_age_s=server.replay_age_s,
                )
                await view.load()
                self._views[session_id] = view
            view.idle_since = None
            return view

    async def view_stream(self, stream_id: str) -> RemoteSession | None:
        session_id = await self.redis.get(keys.stream(stream_id))
        return await self.view(session_id) if session_id else None

    async def reap_views(self, now: float) -> None:
        """Stop following remote sessions nobody here views any more."""
        for session_id, view in list(self._views.items()):
            if view.log.subscribers:
                view.idle_since = None
                continue
            if view.idle_since is None:
                view.idle_since = now
            elif now - view.idle_since >= _VIEW_IDLE_S or view.ended:
                del self._views[session_id]
                await view.close()

    async def session_info(self, session_id: str) -> dict[str, Any] | None:
        meta = await self.redis.hmget(keys.meta(session_id), ["info", "node_id", "node_url"])
        if meta[0] is None:
            return None
        info: dict[str, Any] = json.loads(meta[0])
        return info | {"node_id": meta[1], "node_url": meta[2]}

    async def sessions(self, exclude: set[str]) -> list[dict[str, Any]]:
        """Every session the cluster has a record of but ``exclude``, oldest first."""
        ids = [i for i in await self.redis.zrange(keys.SESSIONS, 0, -1) if i not in exclude]
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id in ids:
                pipe.hmget(keys.meta(session_id), ["info", "node_id", "node_url"])
            rows = await pipe.execute()
        out = []
        for info, node_id, node_url in rows:
            if info is not None:
                out.append(json.loads(info) | {"node_id": node_id, "node_url": node_url})
        return out

    async def transcript_lines(self, session_id: str) -> list[str] | None:
        """The session's transcript as JSON lines (header first), from Redis."""
        header = await self.redis.hget(keys.meta(session_id), "header")
        if header is None:
            return None
        entries = await self.redis.xrange(keys.finals(session_id), min="-", max="+")
        return [header, *(fields["r"] for _, fields in entries)]
