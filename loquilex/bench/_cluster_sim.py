"""``loquilex bench cluster-sim``: four CPU-limited nodes join, leave and die under load.

A simulated cluster on one machine: Debian's ``redis-server`` and four real
``loquilex serve`` nodes, each pinned to one core with ``taskset`` (two per core on a
2-core machine). Rooms are opened with ``POST /sessions`` on node 1 (the front node, which
never leaves); each room's audio is fed at real time to the node that placed it, and one
viewer per room watches it on node 1. The timeline:

1. nodes 1 and 2 run; two rooms open;
2. node 3 joins; two rooms open;
3. node 4 joins; one room opens;
4. node 2 leaves (SIGTERM: a graceful stop);
5. node 3 dies (SIGKILL);
6. the remaining rooms end (END_SESSION).

Reported: where each room was placed, how each ended and how long after its node left or
died its viewer learned of it, and per room the finals the viewer saw that the transcript
(read from node 1 afterwards) lacks: these must be 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

from loquilex.bench._cluster import Node, Viewer, feed_realtime, read_pcm16, start_node, watch
from loquilex.bench._redis import redis_server

__all__ = ["run_cluster_sim"]

#: Seconds between the steps of the timeline.
_STEP_S = 8.0


@dataclass
class _Room:
    index: int
    phase: str
    session_id: str
    owner: str
    viewer: Viewer
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    sender: Any = None


async def _feed_forever(ws: Any, pcm: bytes) -> None:
    """The recording over and over, until the room ends or its node goes away."""
    with contextlib.suppress(websockets.ConnectionClosed):
        while True:
            await feed_realtime(ws, pcm)


async def _wait_registered(front: Node, names: set[str]) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            rows = (await client.get(f"{front.url}/cluster/nodes")).json()
            if names <= {r["id"] for r in rows}:
                await asyncio.sleep(0.6)  # one more heartbeat: loads are current
                return
            await asyncio.sleep(0.1)
    raise RuntimeError(f"nodes {sorted(names)} did not all register")


async def _open_room(
    index: int, phase: str, front: Node, nodes: dict[str, Node], pcm: bytes
) -> _Room:
    async with httpx.AsyncClient(timeout=60) as client:
        created = (await client.post(f"{front.url}/sessions", json={"source": "push"})).json()
    owner = nodes[created["node_id"]]
    session_id = created["session_id"]
    room = _Room(index, phase, session_id, owner.name, Viewer(front.name))
    opened = asyncio.Event()
    for _ in range(100):  # until the owner's first write reached Redis
        async with httpx.AsyncClient() as client:
            if (await client.get(f"{front.url}/sessions/{session_id}")).status_code == 200:
                break
        await asyncio.sleep(0.05)
    room.tasks.append(
        asyncio.create_task(watch(f"{front.ws}/ws/{session_id}", room.viewer, opened))
    )
    await opened.wait()
    key = created["sender_key"]
    room.sender = await websockets.connect(
        f"{owner.ws}/ws/{session_id}?sender_key={key}", max_queue=None
    )
    room.tasks.append(asyncio.create_task(_feed_forever(room.sender, pcm)))
    await asyncio.sleep(0.6)  # a heartbeat: the next placement sees this room
    return room


async def _simulate(stack: ExitStack, root: Path, redis_url: str, pcm: bytes) -> dict[str, Any]:
    pin = {1: ("taskset", "-c", "0"), 2: ("taskset", "-c", "1")}
    pin |= {3: pin[1], 4: pin[2]}
    nodes: dict[str, Node] = {}
    timeline: list[dict[str, Any]] = []
    started = time.monotonic()

    def mark(what: str) -> float:
        now = time.monotonic()
        timeline.append({"t_s": round(now - started, 1), "event": what})
        return now

    def start(number: int) -> Node:
        node = start_node(stack, root, redis_url, f"node-{number}", pin[number])
        nodes[node.name] = node
        mark(f"{node.name} joined (core {pin[number][-1]})")
        return node

    front = start(1)
    start(2)
    await _wait_registered(front, {"node-1", "node-2"})
    rooms = [await _open_room(i, "2 nodes", front, nodes, pcm) for i in range(2)]
    await asyncio.sleep(_STEP_S)
    start(3)
    await _wait_registered(front, {"node-1", "node-2", "node-3"})
    rooms += [await _open_room(i, "3 nodes", front, nodes, pcm) for i in range(2, 4)]
    await asyncio.sleep(_STEP_S)
    start(4)
    await _wait_registered(front, set(nodes))
    rooms.append(await _open_room(4, "4 nodes", front, nodes, pcm))
    await asyncio.sleep(_STEP_S)
    nodes["node-2"].proc.send_signal(signal.SIGTERM)
    left_at = mark("node-2 left (SIGTERM)")
    await asyncio.sleep(_STEP_S)
    nodes["node-3"].proc.send_signal(signal.SIGKILL)
    died_at = mark("node-3 died (SIGKILL)")
    await asyncio.sleep(_STEP_S)
    ended_at = mark("remaining rooms end (END_SESSION)")
    for room in rooms:
        if room.owner not in ("node-2", "node-3"):
            await room.sender.send(json.dumps({"type": "END_SESSION"}))
    await asyncio.wait_for(asyncio.gather(*(r.tasks[0] for r in rooms)), 60)
    for room in rooms:
        room.tasks[1].cancel()
        with contextlib.suppress(asyncio.CancelledError, websockets.ConnectionClosed):
            await room.tasks[1]
        with contextlib.suppress(websockets.ConnectionClosed):
            await room.sender.close()
    since = {"node-2": (left_at, "node left"), "node-3": (died_at, "node lost")}
    report = []
    async with httpx.AsyncClient(timeout=30) as client:
        for room in rooms:
            response = await client.get(f"{front.url}/sessions/{room.session_id}/transcript")
            kept = [s["text"] for s in response.json()["segments"]]
            start_at, how = since.get(room.owner, (ended_at, "ended by its sender"))
            told = room.viewer.types[-2:]
            report.append(
                {
                    "room": room.index,
                    "opened_with": room.phase,
                    "placed_on": room.owner,
                    "how_it_ended": how,
                    "viewer_got": told,
                    "end_reached_viewer_s": round((room.viewer.ended_at or 0) - start_at, 2),
                    "finals_seen": len(room.viewer.finals),
                    "finals_in_transcript": len(kept),
                    "lost_finals": sum(1 for text in room.viewer.finals if text not in kept),
                }
            )
    return {"timeline": timeline, "rooms": report}


def run_cluster_sim(audio: Path) -> dict[str, Any]:
    pcm = read_pcm16(audio)
    with tempfile.TemporaryDirectory(prefix="lx-cluster-sim-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        store = stack.enter_context(redis_server(root / "redis.log"))
        results = asyncio.run(_simulate(stack, root, store.url, pcm))
    rooms = results["rooms"]
    return {
        "audio": str(audio),
        "nodes": 4,
        "pinning": "taskset: nodes 1 and 3 on core 0, nodes 2 and 4 on core 1",
        "heartbeat_s": 0.5,
        "ttl_s": 3.0,
        **results,
        "lost_finals_total": sum(r["lost_finals"] for r in rooms),
    }
