"""The optional bearer token (SPEC §9): REST header, WebSocket header, subprotocol or
AUTHENTICATE first message."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest
import websockets

from tests.conftest import loquilex_bin
from tests.server_harness import Received, Server, collect, run_server

pytestmark = pytest.mark.model

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("auth")
    with run_server(
        root / "data",
        root / "log",
        LX_SERVER__AUTH_TOKEN=TOKEN,
        LX_SERVER__MAX_UNAUTHENTICATED="3",
        LX_LOG_LEVEL="DEBUG",
    ) as srv:
        yield srv


def test_rest_needs_the_token(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        denied = http.get("/sessions")
        assert denied.status_code == 401
        assert denied.json() == {"detail": "a valid bearer token is required"}
        assert http.get("/sessions", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert (
            http.get("/sessions", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
        )
        assert http.get("/healthz").status_code == 200  # liveness stays public
        assert http.get("/").status_code == 200  # so does the page


def _stream_events(server: Server, first: list[str], **connect: object) -> list[dict[str, object]]:
    async def run() -> list[dict[str, object]]:
        got = Received()
        async with websockets.connect(server.ws + "/stream", **connect) as ws:  # type: ignore[arg-type]
            for message in first:
                await ws.send(message)
            await asyncio.wait_for(collect(ws, got, until="SESSION_STARTED"), 15)
        return got.events

    return asyncio.run(run())


def test_websocket_without_token_is_refused(server: Server) -> None:
    start = json.dumps({"type": "START_SESSION", "config": {}})
    events = _stream_events(server, [start])
    assert [e["type"] for e in events] == ["ERROR"]
    assert events[0]["payload"]["code"] == "UNAUTHORIZED"  # type: ignore[index]
    wrong = _stream_events(server, [json.dumps({"type": "AUTHENTICATE", "token": "nope"}), start])
    assert wrong[0]["payload"]["code"] == "UNAUTHORIZED"  # type: ignore[index]


@pytest.mark.parametrize("how", ["authenticate", "header", "subprotocol"])
def test_websocket_with_token(server: Server, how: str) -> None:
    start = json.dumps({"type": "START_SESSION", "config": {}})
    if how == "authenticate":
        events = _stream_events(
            server, [json.dumps({"type": "AUTHENTICATE", "token": TOKEN}), start]
        )
    elif how == "header":
        events = _stream_events(
            server, [start], additional_headers={"Authorization": f"Bearer {TOKEN}"}
        )
    else:
        events = _stream_events(server, [start], subprotocols=[f"bearer.{TOKEN}"])
    assert events[-1]["type"] == "SESSION_STARTED"


def test_non_ascii_and_odd_tokens_are_401_not_500(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        for token in ("tökén", "\u2603" * 40, "x" * 5000):
            answer = http.get("/sessions", headers={"Authorization": f"Bearer {token}".encode()})
            assert answer.status_code == 401, token
    events = _stream_events(
        server,
        [json.dumps({"type": "AUTHENTICATE", "token": "tökén"}), json.dumps({"type": "PING"})],
    )
    assert events[0]["payload"]["code"] == "UNAUTHORIZED"  # type: ignore[index]


def test_unauthenticated_connections_are_capped(server: Server) -> None:
    async def run() -> tuple[list[dict[str, object]], int | None, float]:
        waiting = [await websockets.connect(server.ws + "/stream") for _ in range(3)]
        started = time.monotonic()
        got = Received()
        async with websockets.connect(server.ws + "/stream") as extra:
            await asyncio.wait_for(collect(extra, got, until=None), 5)
            took = time.monotonic() - started
            code = extra.close_code
        for ws in waiting:
            await ws.close()
        return got.events, code, took

    events, code, took = asyncio.run(run())
    assert [e["payload"]["code"] for e in events] == ["RATE_LIMITED"]  # type: ignore[index]
    assert code == 1013 and took < 1.0


def test_the_token_never_shows(server: Server, tmp_path: object) -> None:
    shown = subprocess.run(
        [loquilex_bin(), "config", "show"],
        env={**os.environ, "LX_SERVER__AUTH_TOKEN": TOKEN},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert TOKEN not in shown and "server.auth_token" in shown and "**" in shown
    with httpx.Client(base_url=server.url) as http:
        http.get("/sessions", headers={"Authorization": f"Bearer {TOKEN}"})
    assert TOKEN not in server.log.read_text()


def test_api_page_is_served_without_any_cdn(server: Server) -> None:
    with httpx.Client(base_url=server.url) as http:
        page = http.get("/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower() and "https://" not in page.text
        assert "/docs-assets/swagger-ui-bundle.js" in page.text
        assert http.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
        assert http.get("/docs-assets/swagger-ui.css").status_code == 200
