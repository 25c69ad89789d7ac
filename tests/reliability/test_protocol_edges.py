"""Reliability checks 1, 6, 7, 12, 13, 14: closes, fuzzed frames, oversize frames, the
Origin × Host matrix, the token's secrecy, and an OpenAPI fuzz with path traversal."""

from __future__ import annotations

import asyncio
import http.client as httpclient
import json
import os
import random
import subprocess
import time
from typing import Any

import httpx
import pytest
import websockets

from tests.conftest import loquilex_bin
from tests.protocol_checks import check_stream
from tests.reliability.conftest import Figures, server_errors
from tests.server_harness import (
    Received,
    Server,
    collect,
    run_server,
    send_realtime,
    upgrade_status,
)

pytestmark = [pytest.mark.model, pytest.mark.reliability]

START = json.dumps({"type": "START_SESSION", "config": {}})
TOKEN = "reliability-token-7"


async def _last_before_close(url: str, messages: list[str | bytes], **kw: Any) -> tuple[Any, int]:
    """Send ``messages``; return the last event before the server closed, and the code."""
    got = Received()
    async with websockets.connect(url, **kw) as ws:
        for message in messages:
            await ws.send(message)
        await asyncio.wait_for(collect(ws, got, until=None), 15)
        code = ws.close_code
    return (got.events[-1] if got.events else None), int(code or 0)


@pytest.fixture(scope="module")
def token_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("reliability-token")
    with run_server(
        root / "data",
        root / "log",
        LX_SERVER__AUTH_TOKEN=TOKEN,
        LX_SERVER__MAX_UNAUTHENTICATED="2",
        LX_LOG_LEVEL="DEBUG",
    ) as srv:
        yield srv


# -- 1. every server-initiated close is preceded by an ERROR with a code ------------------------
def test_every_app_close_is_preceded_by_an_error(
    server: Server, token_server: Server, figures: Figures
) -> None:
    async def run() -> dict[str, tuple[Any, int]]:
        closes: dict[str, tuple[Any, int]] = {}
        closes["unknown session"] = await _last_before_close(
            f"{server.ws}/ws/abcdef00-0000-4000-8000-000000000000", []
        )
        closes["unauthorized"] = await _last_before_close(
            token_server.ws + "/stream", [json.dumps({"type": "AUTHENTICATE", "token": "no"})]
        )
        waiting = [await websockets.connect(token_server.ws + "/stream") for _ in range(2)]
        closes["unauthenticated cap"] = await _last_before_close(token_server.ws + "/stream", [])
        for ws in waiting:
            await ws.close()
        return closes

    closes = asyncio.run(run())
    preceded = {
        name: event is not None and event["type"] == "ERROR" and bool(event["payload"]["code"])
        for name, (event, _) in closes.items()
    }
    figures.record(
        "1_close_preceded_by_error",
        app_closes=len(closes),
        preceded=sum(preceded.values()),
        codes={name: code for name, (_, code) in closes.items()},
    )
    assert all(preceded.values()), closes
    assert {code for _, code in closes.values()} <= {4404, 1008, 1013}


# -- 6. ≥ 5,000 fuzzed frames: no unhandled exception, and a normal session afterwards ---------
def _fuzz_frame(rng: random.Random) -> str | bytes:
    kinds = ["START_SESSION", "AUDIO_CHUNK", "END_SESSION", "PING", "RESUME_SESSION"]
    choice = rng.randrange(9)
    if choice == 0:  # noise as PCM16: taken as audio (or refused by the rate limit)
        return bytes(rng.randrange(256) for _ in range(2 * rng.randrange(1, 32)))
    if choice == 1:
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 80)))
    if choice == 2:
        depth = rng.randrange(10, 5000)
        return '{"type":"PING","timestamp":' + "[" * depth + "]" * depth + "}"
    if choice == 3:
        values: list[Any] = [None, True, 1.5, -1, 2**70, "x" * 300, [], {}, "2", 1e308]
        return json.dumps(
            {"type": "AUDIO_CHUNK", "data": rng.choice(values), "sequence": rng.choice(values)}
        )
    if choice == 4:
        return json.dumps({"type": rng.choice([*kinds, "??", "", 5]), rng.choice("abc"): 1})
    if choice == 5:
        return json.dumps(
            {"type": "RESUME_SESSION", "stream_id": "x" * rng.randrange(200), "last_event_id": -5}
        )
    if choice == 6:
        return json.dumps(rng.choice([[], 1, "s", None, [{"type": "PING"}]]))
    if choice == 7:
        return json.dumps({"type": "START_SESSION", "config": {"sample_rate": "fast"}})
    return json.dumps({"type": "AUDIO_CHUNK", "data": "@@@", "sequence": 1})


def test_fuzzed_frames_are_answered_and_leave_no_trace(
    server: Server, audio: bytes, figures: Figures
) -> None:
    rng = random.Random(9)
    frames = [_fuzz_frame(rng) for _ in range(5000)]
    text_frames = sum(isinstance(f, str) for f in frames)

    async def run() -> tuple[Received, Received]:
        fuzzed, after = Received(), Received()
        async with websockets.connect(server.ws + "/stream", max_size=None) as ws:
            await ws.send(START)
            reader = asyncio.create_task(collect(ws, fuzzed, until=None))
            await fuzzed.wait_for("SESSION_STARTED")
            for index, frame in enumerate(frames):
                await ws.send(frame)
                if index % 100 == 0:
                    await asyncio.sleep(0.05)  # within the chunk rate, mostly
            await ws.send(json.dumps({"type": "PING", "timestamp": "done"}))
            async with asyncio.timeout(30):
                while not any(p["payload"]["timestamp"] == "done" for p in fuzzed.of("PONG")):
                    fuzzed.arrived.clear()
                    await fuzzed.arrived.wait()
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 30)
        # Invalid UTF-8 in a text frame: the transport closes with 1007, quietly.
        for _ in range(5):
            async with websockets.connect(server.ws + "/stream") as bad:
                await bad.send(b"\xff\xfe{", text=True)
                await collect(bad, Received(), until=None)
        async with websockets.connect(server.ws + "/stream") as ws:
            await ws.send(START)
            reader = asyncio.create_task(collect(ws, after))
            await send_realtime(ws, audio, speed=2)
            await ws.send(json.dumps({"type": "END_SESSION"}))
            await asyncio.wait_for(reader, 30)
        return fuzzed, after

    fuzzed, after = asyncio.run(run())
    check_stream(fuzzed.events)
    errors = fuzzed.of("ERROR")
    invalid = sum(e["payload"]["code"] == "INVALID_MESSAGE" for e in errors)
    problems = server_errors(server)
    figures.record(
        "6_fuzz",
        frames=len(frames) + 5,
        text_frames=text_frames,
        invalid_message=invalid,
        other_errors=len(errors) - invalid,
        server_log_errors=len(problems),
        session_after_finals=len(after.of("FINALIZED")),
    )
    # Each text frame is invalid in some way (the few START_SESSIONs too: one per
    # connection): exactly one INVALID_MESSAGE each.
    assert invalid == text_frames
    assert {e["payload"]["code"] for e in errors} <= {"INVALID_MESSAGE", "RATE_LIMITED"}
    assert problems == []
    assert after.events[-1]["type"] == "SESSION_ENDED" and len(after.of("FINALIZED")) >= 4


# -- 7. oversize frames: 1009 within 100 ms ----------------------------------------------------
def test_oversize_frames_close_with_1009_quickly(server: Server, figures: Figures) -> None:
    """A frame header announcing 20 MiB: the server closes once it reads the header."""

    created = httpx.post(server.url + "/sessions", json={"source": "push"}).json()

    async def run() -> tuple[int, float]:
        async with websockets.connect(f"{server.ws}/ws/{created['session_id']}") as ws:
            await asyncio.wait_for(collect(ws, Received(), until="SNAPSHOT"), 10)
            # FIN + binary, masked, 64-bit length, mask key, then the first bytes of payload.
            header = bytes([0x82, 0xFF]) + (20 << 20).to_bytes(8, "big") + b"\x01\x02\x03\x04"
            sent = time.monotonic()
            ws.transport.write(header + b"\x00" * 1024)
            await asyncio.wait_for(collect(ws, Received(), until=None), 10)
            return int(ws.close_code or 0), time.monotonic() - sent

    timings = [asyncio.run(run()) for _ in range(5)]
    worst_ms = max(t for _, t in timings) * 1000
    figures.record("7_oversize_close", codes=[c for c, _ in timings], worst_ms=round(worst_ms, 1))
    assert all(code == 1009 for code, _ in timings)
    assert worst_ms < 100
    httpx.delete(
        f"{server.url}/sessions/{created['session_id']}",
        headers={"X-LoquiLex-Sender-Key": created["sender_key"]},
    )


# -- 12. Origin × Host ----------------------------------------------------------------------
def test_origin_host_matrix(server: Server, figures: Figures) -> None:
    port = server.port
    hosts = {
        f"127.0.0.1:{port}": True,
        f"localhost:{port}": True,
        f"[::1]:{port}": True,
        "rebind.evil.example": False,
        f"localhost:{port}@evil.example": False,
    }
    origins = {
        None: True,
        f"http://localhost:{port}": True,
        "http://127.0.0.1:3000": True,
        "https://evil.example": False,
        "null": False,
        "file://": False,
    }
    rows: list[tuple[str, str | None, bool, int, int]] = []
    path = "/ws/abcdef00-0000-4000-8000-000000000000"
    for host, host_ok in hosts.items():
        for origin, origin_ok in origins.items():
            headers = {"Host": host} | ({"Origin": origin} if origin else {})
            rest = httpx.post(server.url + "/sessions/x/finalize", headers=headers).status_code
            ws = upgrade_status(server.port, path, host, origin)
            rows.append((host, origin, host_ok and origin_ok, rest, ws))
    refused = [(h, o, r, w) for h, o, ok, r, w in rows if not ok]
    allowed = [(h, o, r, w) for h, o, ok, r, w in rows if ok]
    figures.record(
        "12_origin_host", combinations=len(rows), allowed=len(allowed), refused=len(refused)
    )
    # Allowed ones reach the app (422 for the malformed id; the WebSocket opens).
    assert all(r == 422 and w == 101 for _, _, r, w in allowed), allowed
    assert all(r in (400, 403) and w in (400, 403) for _, _, r, w in refused), refused


# -- 13. the token never appears in logs or in `config show` ---------------------------------
def test_token_is_never_shown(token_server: Server, figures: Figures) -> None:
    with httpx.Client(base_url=token_server.url) as http:
        for _ in range(3):
            http.get("/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
            http.get("/sessions", headers={"Authorization": f"Bearer {TOKEN}x"})

    async def ws() -> None:
        async with websockets.connect(
            token_server.ws + "/stream",
            subprotocols=[f"bearer.{TOKEN}"],  # type: ignore[list-item]
        ) as sock:
            await sock.send(START)
            await collect(sock, Received(), until="SESSION_STARTED")

    asyncio.run(ws())
    shown = subprocess.run(
        [loquilex_bin(), "config", "show", "--json"],
        env={**os.environ, "LX_SERVER__AUTH_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    log = token_server.log.read_text()
    figures.record(
        "13_token_secrecy",
        in_log=log.count(TOKEN),
        in_config_show=shown.count(TOKEN),
        masked=json.loads(shown)["server.auth_token"]["value"],
    )
    assert TOKEN not in log and TOKEN not in shown


# -- 14. OpenAPI fuzz: no 5xx; traversal reads nothing outside the data directory -------------
def test_openapi_fuzz_and_traversal(server: Server, figures: Figures) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    secret = "traversal-canary"
    (server.data_dir / "transcript.jsonl").write_text(json.dumps({"secret": secret}) + "\n")
    (server.data_dir / "sessions" / "transcript.jsonl").write_text(json.dumps({secret: 1}) + "\n")
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    calls, failures = 0, []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            nonlocal calls
            calls += 1
            response = case.call()
            if response.status_code >= 500 or secret in response.text:
                failures.append((case.method, case.formatted_path, response.status_code))

        exercise()
    leaks = []
    for raw in ("%2e%2e", "..", ".%2e", "%2E%2E", ".", "%2e", "..%2f..", "%2e%2e%2f%2e%2e"):
        for tail in ("transcript?format=txt", "snapshot", ""):
            conn = httpclient.HTTPConnection("127.0.0.1", server.port, timeout=10)
            conn.request("GET", f"/sessions/{raw}/{tail}")
            response = conn.getresponse()
            body = response.read().decode(errors="replace")
            conn.close()
            if (response.status == 200 and secret in body) or response.status >= 500:
                leaks.append((raw, tail, response.status))
    figures.record("14_api_fuzz", calls=calls, server_errors=len(failures), traversal_leaks=leaks)
    assert failures == []
    assert leaks == []
