"""``loquilex bench cluster``: cluster mode measured with real parts on one machine.

Debian's ``redis-server`` and real ``loquilex serve`` node processes, each started as a
user would start it, and real WebSocket viewers (for the fan-out, dealt out to a few viewer
processes of their own, as viewers on their own machines would be):

1. **Fan-out.** One real captioning session (the recording fed at real time over
   ``/stream`` to node A); the viewers split evenly between node A (local delivery) and
   node B (through Redis). For every broadcast event and viewer: the time from the event's
   creation (``ts_server``) to its arrival. Also every viewer's finals against the others',
   Redis's CPU and memory, and each node's CPU.
2. **Placement.** A third node joins; ``POST /sessions`` is sent to node A several times
   and where each session landed is recorded.
3. **Failover.** A session streams on node C with viewers on node B; node C is killed
   (SIGKILL) after its first finals. Reported: the time from the kill to the viewers'
   SESSION_ENDED, and finals the viewers saw that the transcript (read from node B) lacks.

Viewers and nodes share the machine's cores, so latencies are an upper bound on what a
deployment with separate client machines would see.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import re
import signal
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
import redis
import websockets

from loquilex._stats import summary_ms
from loquilex.audio import decode_file
from loquilex.bench._redis import RedisServer, redis_server
from loquilex.bench._served import Served, served
from loquilex.cluster import ID_STRIDE
from loquilex.cluster import _keys as keys

__all__ = [
    "Node",
    "Viewer",
    "feed_realtime",
    "read_pcm16",
    "run_cluster_bench",
    "start_node",
    "watch",
]

_CHUNK_S = 0.1
_SKIP = frozenset({"SNAPSHOT", "PONG"})
#: The start of every envelope as the server writes it (fields in their declared order).
_HEAD = re.compile(
    r'\{"event_id":(\d+),"stream_id":"[^"]*","segment_id":[^,]*,"type":"(\w+)","ts_server":(\d+)'
)


@dataclass
class Node(Served):
    name: str


@dataclass
class Viewer:
    node: str
    latencies: list[float] = field(default_factory=list)
    finals: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    ended_at: float | None = None
    final_arrived: asyncio.Event = field(default_factory=asyncio.Event)


def start_node(
    stack: ExitStack, root: Path, redis_url: str, name: str, wrapper: tuple[str, ...] = ()
) -> Node:
    """A node process, stopped when ``stack`` closes."""
    env = {
        "LX_CLUSTER__REDIS_URL": redis_url,
        "LX_CLUSTER__NODE_ID": name,
        "LX_CLUSTER__HEARTBEAT_S": "0.5",
        "LX_CLUSTER__TTL_S": "3",
        "LX_SERVER__MAX_CONNECTIONS": "2000",
        "LX_SERVER__MAX_SESSIONS": "4",
        "LX_LOG_LEVEL": "WARNING",
    }
    proc, port = stack.enter_context(
        served(root / name, root / f"{name}.log", env, wrapper=wrapper)
    )
    return Node(port=port, proc=proc, name=name)


def read_pcm16(path: Path) -> bytes:
    audio = decode_file(path)
    return (np.clip(audio, -1, 1) * 32767).astype("<i2").tobytes()


async def feed_realtime(ws: Any, pcm: bytes) -> None:
    size = int(16000 * 2 * _CHUNK_S)
    started = time.monotonic()
    for index, offset in enumerate(range(0, len(pcm), size)):
        await ws.send(pcm[offset : offset + size])
        await asyncio.sleep(max(started + (index + 1) * _CHUNK_S - time.monotonic(), 0))


async def watch(url: str, viewer: Viewer, opened: asyncio.Event | None = None) -> None:
    async with websockets.connect(url, max_queue=None) as ws:
        if opened is not None:
            opened.set()
        async for raw in ws:
            now = time.time()
            # The envelope's head only (the payload is parsed for finals alone): one
            # process reads every viewer's copy, and its own time is part of what is measured.
            head = _HEAD.match(raw if isinstance(raw, str) else raw.decode())
            if head is None:
                raise ValueError(f"not an envelope: {raw[:120]!r}")
            event_id, kind, ts_server = int(head[1]), head[2], int(head[3])
            viewer.types.append(kind)
            if kind in _SKIP or event_id % ID_STRIDE:
                continue  # private: this connection's own
            viewer.latencies.append(now - ts_server / 1000)
            if kind == "FINALIZED":
                text = json.loads(raw)["payload"]["segment"]["text"]
                if text:
                    viewer.finals.append(text)
                    viewer.final_arrived.set()
            if kind == "SESSION_ENDED":
                viewer.ended_at = time.monotonic()
                return


async def _start_stream(node: Node) -> tuple[Any, str]:
    # Unbounded: the sender reads nothing after SESSION_STARTED, and a full receive queue
    # would stop the client from answering the server's pings.
    ws = await websockets.connect(f"{node.ws}/stream", max_queue=None)
    await ws.send(json.dumps({"type": "START_SESSION", "config": {"source": "push"}}))
    while True:
        event = json.loads(await ws.recv())
        if event["type"] == "SESSION_STARTED":
            return ws, event["payload"]["session_id"]


async def _until_known(node: Node, session_id: str) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(200):
            if (await client.get(f"{node.url}/sessions/{session_id}")).status_code == 200:
                return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"node {node.name} never learned of session {session_id}")


@dataclass
class _Share:
    """What one viewer process saw: each viewer's node, latencies, finals and event types,
    and the process's CPU seconds while it watched."""

    viewers: list[tuple[str, list[float], list[str], list[str]]]
    cpu_s: float


def _watch_share(urls: list[tuple[str, str]], conn: Connection) -> None:
    """A viewer process: open a WebSocket per ``(node, url)``, a few at a time, say "ready",
    watch until every one has its SESSION_ENDED, then send back a :class:`_Share`."""

    async def main() -> list[Viewer]:
        viewers = [Viewer(node) for node, _ in urls]
        tasks = []
        for index, ((_, url), viewer) in enumerate(zip(urls, viewers, strict=True)):
            opened = asyncio.Event()
            tasks.append(asyncio.create_task(watch(url, viewer, opened)))
            await opened.wait()
            if index % 50 == 49:
                await asyncio.sleep(0.05)
        conn.send("ready")
        await asyncio.wait_for(asyncio.gather(*tasks), 600)
        return viewers

    cpu = time.process_time()
    viewers = asyncio.run(main())
    seen = [(v.node, v.latencies, v.finals, v.types) for v in viewers]
    conn.send(_Share(seen, time.process_time() - cpu))
    conn.close()


async def _fanout(
    a: Node, b: Node, pcm: bytes, viewers: int, processes: int
) -> tuple[dict[str, Any], float]:
    """The fan-out run, and the viewer processes' CPU seconds. The viewers alternate
    between the nodes and are dealt out to ``processes`` processes: one process reading
    every viewer's copy of an event in turn would add its own queue to the latency, which
    viewers on machines of their own do not have."""
    sender, session_id = await _start_stream(a)
    await _until_known(b, session_id)
    urls = [
        ("a", f"{a.ws}/ws/{session_id}") if i % 2 == 0 else ("b", f"{b.ws}/ws/{session_id}")
        for i in range(viewers)
    ]
    spawn = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    pipes, workers = [], []
    for k in range(processes):
        receiving, sending = spawn.Pipe(duplex=False)
        worker = spawn.Process(target=_watch_share, args=(urls[k::processes], sending))
        worker.start()
        sending.close()
        pipes.append(receiving)
        workers.append(worker)
    try:
        for pipe in pipes:
            if await loop.run_in_executor(None, pipe.recv) != "ready":
                raise RuntimeError("a viewer process did not connect its viewers")
        started = time.monotonic()
        await feed_realtime(sender, pcm)
        async with httpx.AsyncClient() as client:
            view = (await client.get(f"{b.url}/sessions/{session_id}/metrics")).json()
        await sender.send(json.dumps({"type": "END_SESSION"}))
        shares: list[_Share] = [await loop.run_in_executor(None, pipe.recv) for pipe in pipes]
    finally:
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                worker.kill()
    await sender.close()
    elapsed = time.monotonic() - started
    watchers = [
        Viewer(node, latencies, finals, types)
        for share in shares
        for node, latencies, finals, types in share.viewers
    ]
    reference = watchers[0].finals
    return {
        "session_id": session_id,
        "elapsed_s": round(elapsed, 1),
        "viewer_processes": processes,
        "deliveries": sum(len(v.latencies) for v in watchers),
        "events_per_viewer": len(watchers[0].latencies),
        "finals_per_viewer": len(reference),
        "viewers_missing_finals": sum(1 for v in watchers if v.finals != reference),
        "buffer_overflows": sum(v.types.count("ERROR") for v in watchers),
        "local_node_a": summary_ms([x for v in watchers if v.node == "a" for x in v.latencies]),
        "owner_to_node_b_ms": view.get("arrival_delay_ms", {}),
        "through_redis_node_b": summary_ms(
            [x for v in watchers if v.node == "b" for x in v.latencies]
        ),
    }, sum(share.cpu_s for share in shares)


async def _placement(a: Node, sessions: int) -> list[str]:
    placed = []
    async with httpx.AsyncClient(timeout=60) as client:
        for _ in range(sessions):
            created = (await client.post(f"{a.url}/sessions", json={"source": "push"})).json()
            placed.append(created.get("node_id", "?"))
            await asyncio.sleep(0.6)  # one heartbeat: the registry shows the new load
    return placed


async def _failover(c: Node, b: Node, pcm: bytes, viewers: int) -> dict[str, Any]:
    sender, session_id = await _start_stream(c)
    await _until_known(b, session_id)
    watchers = [Viewer("b") for _ in range(viewers)]
    tasks = [asyncio.create_task(watch(f"{b.ws}/ws/{session_id}", v)) for v in watchers]
    feeding = asyncio.create_task(feed_realtime(sender, pcm))
    first = watchers[0]
    while len(first.finals) < 3:
        first.final_arrived.clear()
        await asyncio.wait_for(first.final_arrived.wait(), 60)
    await asyncio.sleep(1.0)  # mid-sentence, likely
    c.proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    feeding.cancel()
    await asyncio.wait_for(asyncio.gather(*tasks), 30)
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{b.url}/sessions/{session_id}/transcript")
    kept = [s["text"] for s in response.json()["segments"]]
    seen = max((v.finals for v in watchers), key=len)
    return {
        "finals_seen_before_kill": len(seen),
        "finals_in_transcript": len(kept),
        "lost_finals": sum(1 for text in seen if text not in kept),
        "kill_to_session_ended_s": summary_ms(
            [v.ended_at - killed for v in watchers if v.ended_at is not None]
        ),
        "viewers_told": sum(1 for v in watchers if v.types[-2:] == ["ERROR", "SESSION_ENDED"]),
        "viewers": viewers,
    }


def _redis_commands(url: str) -> int:
    """Commands Redis has processed since it started (heartbeats, writes, reads)."""
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("stats")["total_commands_processed"])
    finally:
        client.close()


def _redis_memory(url: str, session_id: str) -> dict[str, int]:
    client = redis.Redis.from_url(url)
    try:
        info = client.info("memory")
        events_key, finals_key = keys.events(session_id), keys.finals(session_id)
        events = client.memory_usage(events_key) or 0
        finals = client.memory_usage(finals_key) or 0
        return {
            "used_memory_bytes": int(info["used_memory"]),
            "events_stream_bytes": int(events),
            "events_stream_entries": int(client.xlen(events_key)),
            "finals_stream_bytes": int(finals),
            "finals_stream_entries": int(client.xlen(finals_key)),
        }
    finally:
        client.close()


def run_cluster_bench(
    audio: Path, viewers: int = 500, failover_viewers: int = 20, viewer_processes: int = 4
) -> dict[str, Any]:
    pcm = read_pcm16(audio)
    with tempfile.TemporaryDirectory(prefix="lx-cluster-bench-") as tmp, ExitStack() as stack:
        root = Path(tmp)
        store: RedisServer = stack.enter_context(redis_server(root / "redis.log"))
        assert store.proc is not None
        redis_proc = psutil.Process(store.proc.pid)
        a = start_node(stack, root, store.url, "node-a")
        b = start_node(stack, root, store.url, "node-b")
        procs = {
            "redis": redis_proc,
            "node_a": psutil.Process(a.proc.pid),
            "node_b": psutil.Process(b.proc.pid),
            "viewers": psutil.Process(),
        }
        before = {k: sum(p.cpu_times()[:2]) for k, p in procs.items()}
        commands = _redis_commands(store.url)
        wall = time.monotonic()
        fanout, viewers_cpu_s = asyncio.run(_fanout(a, b, pcm, viewers, viewer_processes))
        wall = time.monotonic() - wall
        commands = _redis_commands(store.url) - commands
        cpu = {
            f"{k}_cpu_percent_of_one_core": round(
                100 * (sum(p.cpu_times()[:2]) - before[k]) / wall, 1
            )
            for k, p in procs.items()
        }
        # The viewer processes have exited: their own account of their CPU time.
        cpu["viewers_cpu_percent_of_one_core"] = round(
            cpu["viewers_cpu_percent_of_one_core"] + 100 * viewers_cpu_s / wall, 1
        )
        cpu["redis_commands_per_s"] = round(commands / wall, 1)
        memory = _redis_memory(store.url, fanout["session_id"])
        c = start_node(stack, root, store.url, "node-c")
        time.sleep(1.0)
        placed = asyncio.run(_placement(a, 6))
        failover = asyncio.run(_failover(c, b, pcm, failover_viewers))
    return {
        "audio": str(audio),
        "audio_s": round(len(pcm) / 32000, 1),
        "viewers": viewers,
        "fanout": fanout,
        "cpu": cpu,
        "redis_memory": memory,
        "placement_of_6_posts_to_node_a": placed,
        "failover": failover,
    }
