"""Cluster mode with the real parts: Debian's redis-server and real `loquilex serve` nodes,
real WebSocket clients, the real model on real speech.

The nodes heartbeat every 0.5 s with a 3 s TTL, so a dead node is noticed within 3 s.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as redis_client
import websockets

from loquilex.audio import decode_file
from loquilex.bench._redis import RedisServer, redis_server
from loquilex.cluster import ID_STRIDE, SLOT_SPAN
from loquilex.cluster import _keys as keys
from loquilex.cluster._keys import redacted
from loquilex.cluster._view import RemoteEmitter
from loquilex.protocol import PongPayload
from tests.conftest import Speech
from tests.protocol_checks import check_stream
from tests.server_harness import (
    Received,
    Server,
    collect,
    controls,
    pcm16,
    run_server,
    send_realtime,
    sender_url,
)

TTL_S = 3.0
#: The nodes require this token, also from each other (placement forwards with it).
TOKEN = "cluster-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
#: Redis's password: in the nodes' settings only, never in their logs.
REDIS_PASSWORD = "redis-s3cret-pw"
_BROADCAST = ("PARTIAL", "FINALIZED", "STATUS", "SESSION_STARTED", "SESSION_ENDED", "ERROR")


def _connect(url: str) -> Any:
    """A WebSocket client with the cluster's token."""
    return websockets.connect(url, additional_headers=AUTH)


def _node_env(redis: RedisServer, name: str) -> dict[str, str]:
    return {
        "LX_CLUSTER__REDIS_URL": redis.url,
        "LX_CLUSTER__NODE_ID": name,
        "LX_CLUSTER__HEARTBEAT_S": "0.5",
        "LX_CLUSTER__TTL_S": str(TTL_S),
        "LX_SERVER__MAX_SESSIONS": "4",
        "LX_SERVER__AUTH_TOKEN": TOKEN,
    }


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    log = tmp_path_factory.mktemp("redis") / "redis.log"
    with redis_server(log, password=REDIS_PASSWORD) as server:
        yield server


@pytest.fixture(scope="module")
def nodes(
    redis: RedisServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    root = tmp_path_factory.mktemp("cluster")
    with (
        run_server(root / "a", root / "a.log", **_node_env(redis, "node-a")) as a,
        run_server(root / "b", root / "b.log", **_node_env(redis, "node-b")) as b,
    ):
        _wait_for_nodes(a, {"node-a", "node-b"})
        yield a, b


@pytest.fixture(scope="module")
def audio(speech: Speech) -> bytes:
    return pcm16(decode_file(speech.path))


def _wait_for_nodes(server: Server, names: set[str], within_s: float = 10) -> list[dict[str, Any]]:
    deadline = time.monotonic() + within_s
    while True:
        rows = httpx.get(f"{server.url}/cluster/nodes", headers=AUTH, timeout=5).json()
        if {r["id"] for r in rows} == names:
            return list(rows)
        assert time.monotonic() < deadline, rows
        time.sleep(0.1)


def _wait_until_known(server: Server, session_id: str, within_s: float = 5) -> None:
    """Until the session's node has published it (its first events are on their way)."""
    deadline = time.monotonic() + within_s
    while httpx.get(f"{server.url}/sessions/{session_id}", headers=AUTH).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _broadcast(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] in _BROADCAST and _is_broadcast_id(e["event_id"])]


def _is_broadcast_id(event_id: int) -> bool:
    """The owner's own ids are multiples of the stride; other nodes' private ids are not."""
    return event_id % ID_STRIDE == 0


def _resume(stream_id: str, last_event_id: int) -> str:
    return json.dumps(
        {"type": "RESUME_SESSION", "stream_id": stream_id, "last_event_id": last_event_id}
    )


# -- without servers --------------------------------------------------------------------------
def test_private_ids_of_two_nodes_never_meet_and_always_increase() -> None:
    last_broadcast = [ID_STRIDE * 3]
    first = RemoteEmitter("str-x", lambda: last_broadcast[0], lambda: 1)
    second = RemoteEmitter("str-x", lambda: last_broadcast[0], lambda: 2)
    ids = []
    for step in range(3):
        for _ in range(3):
            ids.append(first.emit("PONG", PongPayload(timestamp=1)).event_id)
            ids.append(second.emit("PONG", PongPayload(timestamp=1)).event_id)
        last_broadcast[0] += ID_STRIDE * (step + 1)
    assert len(set(ids)) == len(ids)
    for emitter_ids in (ids[0::2], ids[1::2]):
        assert emitter_ids == sorted(emitter_ids)
    # Every private id lies strictly between the broadcast before it and the one after.
    assert all(i % ID_STRIDE != 0 for i in ids)
    assert ids[0] == ID_STRIDE * 3 + SLOT_SPAN + 1 and ids[1] == ID_STRIDE * 3 + 2 * SLOT_SPAN + 1


def test_redis_credentials_are_never_shown(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    assert redacted("redis://user:s3cret@redis.example:6380/2") == "redis://redis.example:6380/2"
    monkeypatch.setenv("LX_CLUSTER__REDIS_URL", "redis://:s3cret@127.0.0.1:1/0")
    shown = cli("config", "show")
    assert shown.returncode == 0, shown.stderr
    assert "cluster.redis_url" in shown.stdout
    assert "s3cret" not in shown.stdout + shown.stderr


# -- two nodes, one Redis ---------------------------------------------------------------------
@pytest.mark.model
def test_viewers_on_either_node_see_one_stream_and_resume_across_nodes(
    redis: RedisServer, nodes: tuple[Server, Server], audio: bytes
) -> None:
    """A session streams on the node that was asked (the least loaded, itself). Viewers on
    both nodes receive the same events with the same ids; a viewer that drops off node A
    resumes on node B and gets exactly what it missed; a sender on the wrong node is told
    where the session runs; after the end, node B serves the transcript and the list."""
    a, b = nodes
    created = httpx.post(
        f"{a.url}/sessions", json={"source": "push"}, headers=AUTH, timeout=30
    ).json()
    assert created["node_id"] == "node-a" and created["node_url"] == a.url
    sid, stream_id = created["session_id"], created["stream_id"]

    async def run() -> dict[str, Any]:
        got = {k: Received() for k in ("a", "b", "first_half", "resumed", "wrong")}
        async with (
            _connect(sender_url(a, created)) as sender,
            _connect(f"{a.ws}/ws/{sid}") as on_a,
            _connect(f"{b.ws}/ws/{sid}") as on_b,
        ):
            tasks = [
                asyncio.create_task(collect(on_a, got["a"])),
                asyncio.create_task(collect(on_b, got["b"])),
            ]
            dropper = await _connect(f"{a.ws}/ws/{sid}")
            dropping = asyncio.create_task(collect(dropper, got["first_half"], until=None))
            half = len(audio) // 2
            half -= half % 2
            seq = await send_realtime(sender, audio[:half], speed=1.5)
            await dropper.close()
            await dropping
            last_id = got["first_half"].events[-1]["event_id"]
            seq = await send_realtime(sender, audio[half : half + 64000], start_seq=seq, speed=1.5)
            async with (
                _connect(f"{b.ws}/ws/{sid}") as again,
                _connect(sender_url(b, created)) as wrong,
            ):
                await again.send(_resume(stream_id, last_id))
                tasks.append(asyncio.create_task(collect(again, got["resumed"])))
                tasks.append(asyncio.create_task(collect(wrong, got["wrong"])))
                await asyncio.sleep(0.5)
                await wrong.send(json.dumps({"type": "END_SESSION"}))
                await send_realtime(sender, audio[half + 64000 :], start_seq=seq, speed=1.5)
                await sender.send(json.dumps({"type": "END_SESSION"}))
                await asyncio.wait_for(asyncio.gather(*tasks), 60)
        return got

    got = asyncio.run(run())
    for name in ("a", "b", "first_half", "resumed", "wrong"):
        check_stream(got[name].events)
    on_a, on_b = _broadcast(got["a"].events), _broadcast(got["b"].events)
    assert [e["event_id"] for e in on_a] == [e["event_id"] for e in on_b]
    assert on_a == on_b  # the same envelopes, byte for byte as JSON values
    assert any(e["type"] == "FINALIZED" for e in on_b)
    assert got["b"].events[0]["type"] == "SNAPSHOT"
    assert on_b[-1]["type"] == "SESSION_ENDED"

    # Resumed on the other node: exactly the broadcast events it missed, no SNAPSHOT.
    assert "SNAPSHOT" not in [e["type"] for e in got["resumed"].events]
    seen = _broadcast(got["first_half"].events) + _broadcast(got["resumed"].events)
    assert [e["event_id"] for e in seen] == [e["event_id"] for e in on_a]

    # The sender on the wrong node was told where to go, and ended nothing.
    refusals = [e for e in got["wrong"].events if e["type"] == "ERROR"]
    assert refusals and all(r["payload"]["code"] == "SESSION_ERROR" for r in refusals)
    assert all(r["payload"]["details"]["owner_url"] == a.url for r in refusals)
    assert a.url in refusals[0]["payload"]["message"]

    # Any node lists the session and serves its transcript (from Redis on node B).
    listed = {s["session_id"]: s for s in httpx.get(f"{b.url}/sessions", headers=AUTH).json()}
    assert listed[sid]["node_id"] == "node-a" and listed[sid]["state"] == "ended"
    txt = {"format": "txt"}
    from_b = httpx.get(f"{b.url}/sessions/{sid}/transcript", params=txt, headers=AUTH)
    from_a = httpx.get(f"{a.url}/sessions/{sid}/transcript", params=txt, headers=AUTH)
    assert from_b.status_code == from_a.status_code == 200
    assert from_b.text == from_a.text and from_b.text.strip()
    assert httpx.get(f"{b.url}/sessions/{sid}", headers=AUTH).json()["node_url"] == a.url
    # Redis forgets the ended session's events within the hour, its finals after the
    # transcript retention (7 days by default).
    store = redis_client.Redis.from_url(redis.url)
    try:
        assert 0 < store.ttl(keys.events(sid)) <= 3600
        assert 3600 < store.ttl(keys.finals(sid)) <= 7 * 86400
    finally:
        store.close()
    # Speaker names live beside the transcript on the owner: asked elsewhere, 421 says where.
    names = httpx.get(f"{b.url}/sessions/{sid}/speakers", headers=AUTH)
    assert names.status_code == 421 and names.json()["owner_url"] == a.url


@pytest.mark.model
def test_rest_sessions_are_placed_on_the_least_loaded_node(nodes: tuple[Server, Server]) -> None:
    a, b = nodes
    first = httpx.post(
        f"{a.url}/sessions", json={"source": "push"}, headers=AUTH, timeout=30
    ).json()
    time.sleep(1.2)  # node A's next heartbeat reports its new load
    second = httpx.post(
        f"{a.url}/sessions", json={"source": "push"}, headers=AUTH, timeout=30
    ).json()
    placed = {first["node_id"], second["node_id"]}
    assert placed == {"node-a", "node-b"}, (first, second)
    on_b = second if second["node_id"] == "node-b" else first
    assert on_b["node_url"] == b.url
    # It really runs on node B: B answers for it with its live stats.
    assert "stats" in httpx.get(f"{b.url}/sessions/{on_b['session_id']}", headers=AUTH).json()
    # Control on the wrong node: 421 with the owner's URL; on the owner: done.
    wrong = httpx.delete(f"{a.url}/sessions/{on_b['session_id']}", headers=controls(on_b) | AUTH)
    assert wrong.status_code == 421 and wrong.json()["owner_url"] == b.url
    for created in (first, second):
        owner = created["node_url"]
        done = httpx.delete(
            f"{owner}/sessions/{created['session_id']}", headers=controls(created) | AUTH
        )
        assert done.status_code == 200, done.text


@pytest.mark.model
def test_a_killed_node_ends_its_sessions_for_viewers_elsewhere_and_keeps_finals(
    redis: RedisServer,
    nodes: tuple[Server, Server],
    audio: bytes,
    tmp_path: Path,
) -> None:
    """Node C runs a /stream session and is SIGKILLed mid-stream. The viewer on node B gets
    ERROR and SESSION_ENDED within the TTL, and every final it received can still be fetched
    from node B."""
    _, b = nodes
    with run_server(tmp_path / "c", tmp_path / "c.log", **_node_env(redis, "node-c")) as c:
        _wait_for_nodes(b, {"node-a", "node-b", "node-c"})

        async def run() -> tuple[Received, float]:
            watched = Received()
            async with _connect(f"{c.ws}/stream") as sender:
                await sender.send(json.dumps({"type": "START_SESSION", "config": {}}))
                started = json.loads(await sender.recv())
                assert started["type"] == "SESSION_STARTED"
                sid = started["payload"]["session_id"]
                _wait_until_known(b, sid)
                async with _connect(f"{b.ws}/ws/{sid}") as viewer:
                    watching = asyncio.create_task(collect(viewer, watched))
                    feeding = asyncio.create_task(send_realtime(sender, audio, speed=1.5))
                    await watched.wait_for("FINALIZED", within_s=30)
                    c.proc.send_signal(signal.SIGKILL)
                    killed = time.monotonic()
                    feeding.cancel()
                    await asyncio.wait_for(watching, TTL_S + 5)
            return watched, time.monotonic() - killed

        watched, took_s = asyncio.run(run())
    check_stream(watched.events)
    types = [e["type"] for e in watched.events]
    assert types[-2:] == ["ERROR", "SESSION_ENDED"], types
    assert watched.events[-2]["payload"]["code"] == "SESSION_ERROR"
    assert "node-c" in watched.events[-2]["payload"]["message"]
    assert took_s <= TTL_S + 1.0, took_s  # + one heartbeat of the noticing node, + delivery
    finals = [
        e["payload"]["segment"]["text"]
        for e in watched.events
        if e["type"] == "FINALIZED" and e["payload"]["segment"]["text"]
    ]
    assert finals
    listed = [
        s
        for s in httpx.get(f"{b.url}/sessions", headers=AUTH).json()
        if s.get("node_id") == "node-c"
    ]
    assert len(listed) == 1 and listed[0]["state"] == "error"
    transcript = httpx.get(
        f"{b.url}/sessions/{listed[0]['session_id']}/transcript", headers=AUTH
    ).json()
    kept = [s["text"] for s in transcript["segments"]]
    assert kept[: len(finals)] == finals, (kept, finals)
    nodes_now = {r["id"] for r in httpx.get(f"{b.url}/cluster/nodes", headers=AUTH).json()}
    assert nodes_now == {"node-a", "node-b"}


@pytest.mark.model
def test_nodes_survive_a_redis_restart_and_register_again(
    redis: RedisServer, nodes: tuple[Server, Server]
) -> None:
    a, b = nodes
    redis.stop()
    deadline = time.monotonic() + 10
    while httpx.get(f"{a.url}/healthz", headers=AUTH).json()["cluster"]["redis"] != "unreachable":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    # Still serving: health, and a session of its own, while Redis is away.
    created = httpx.post(f"{a.url}/sessions", json={"source": "push"}, headers=AUTH, timeout=30)
    assert created.status_code == 201, created.text
    assert created.json()["node_id"] == "node-a"
    redis.start()
    deadline = time.monotonic() + 10
    while httpx.get(f"{a.url}/healthz", headers=AUTH).json()["cluster"]["redis"] != "ok":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    _wait_for_nodes(b, {"node-a", "node-b"})
    assert a.proc.poll() is None and b.proc.poll() is None
    # The session started while Redis was away reached it once Redis was back.
    session_id = created.json()["session_id"]
    _wait_until_known(b, session_id)
    gone = httpx.delete(f"{a.url}/sessions/{session_id}", headers=controls(created.json()) | AUTH)
    assert gone.status_code == 200
    for log in (a.log, b.log):
        text = log.read_text()
        assert "unreachable" in text and "reachable; node" in text
        assert "Traceback" not in text
        assert REDIS_PASSWORD not in text  # the URL is logged without its credentials


def test_the_fanout_bench_counts_every_viewer_of_its_viewer_processes(speech: Speech) -> None:
    """`loquilex bench cluster` deals its viewers out to client processes of their own; every
    viewer's events and finals come back to the report, half of them through Redis."""
    from loquilex.bench._cluster import run_cluster_bench

    result = run_cluster_bench(speech.path, viewers=6, failover_viewers=2, viewer_processes=3)
    fanout = result["fanout"]
    assert fanout["viewer_processes"] == 3
    per_viewer = fanout["events_per_viewer"]
    assert per_viewer >= len(speech.clips) and fanout["finals_per_viewer"] >= len(speech.clips)
    assert fanout["deliveries"] == 6 * per_viewer
    assert fanout["viewers_missing_finals"] == 0 and fanout["buffer_overflows"] == 0
    assert fanout["through_redis_node_b"]["count"] == 3 * per_viewer
    assert fanout["local_node_a"]["count"] == 3 * per_viewer
    assert result["cpu"]["viewers_cpu_percent_of_one_core"] > 0
    assert result["failover"]["lost_finals"] == 0
