"""Redis key names, the id layout of cluster mode, and how a Redis URL is shown."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = [
    "ID_STRIDE",
    "MAX_SLOTS",
    "SLOT_SPAN",
    "entry_id",
    "event_id_of",
    "redacted",
]

#: The owner of a session steps its event ids by this much. The gap after each id is split
#: into MAX_SLOTS ranges of SLOT_SPAN ids, one per node (its registry slot), for the private
#: events (SNAPSHOT, PONG, errors) that node sends its own viewers of the session. Ids stay
#: unique per stream and increasing on every connection, whichever node serves it; with
#: JSON's exact integers (2**53) a stream has room for 2**29 broadcast events.
ID_STRIDE = 1 << 24
SLOT_SPAN = 1 << 16
MAX_SLOTS = ID_STRIDE // SLOT_SPAN

PREFIX = "lx:"
NODES = PREFIX + "nodes"  # set of node ids that joined and were not yet found dead
SESSIONS = PREFIX + "sessions"  # sorted set: session id by creation time
ENDED = PREFIX + "ended"  # sorted set: ended session id by when its record expires


def node(node_id: str) -> str:
    """The node's registry entry (JSON), expiring unless its heartbeat renews it."""
    return f"{PREFIX}node:{node_id}"


def node_sessions(node_id: str) -> str:
    return f"{PREFIX}node:{node_id}:sessions"


def slot(index: int) -> str:
    return f"{PREFIX}slot:{index}"


def reaping(node_id: str) -> str:
    """Held by the one node that ends a dead node's sessions."""
    return f"{PREFIX}reap:{node_id}"


# A session's keys share the hash tag {SESSION_ID}: on a Redis Cluster they live on one shard,
# and sessions spread over the shards by id.


def meta(session_id: str) -> str:
    """Hash: owner node, its URL, stream id, kind, transcript header, latest info."""
    return f"{PREFIX}s:{{{session_id}}}"


def events(session_id: str) -> str:
    """Stream: the session's broadcast events, trimmed to about the replay size."""
    return f"{PREFIX}s:{{{session_id}}}:events"


def finals(session_id: str) -> str:
    """Stream: the session's transcript lines (finals and their translations), never
    trimmed; it expires ``cluster.transcript_retention_s`` after the session ends."""
    return f"{PREFIX}s:{{{session_id}}}:finals"


def stream(stream_id: str) -> str:
    """The session id of a stream id (RESUME_SESSION names a stream)."""
    return f"{PREFIX}stream:{stream_id}"


def entry_id(event_id: int) -> str:
    """A stream entry's id for an event: ``0-EVENT_ID``, so a reader resumes from an event id
    and a repeated write of the same event is refused by Redis rather than duplicated."""
    return f"0-{event_id}"


def event_id_of(entry: str) -> int:
    return int(entry.partition("-")[2] or 0)


def redacted(url: str) -> str:
    """The URL without its credentials, for logs and errors."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
