"""The optional bearer token (SPEC §9): REST header, WebSocket header, subprotocol or
AUTHENTICATE first message."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest
import websockets

from tests.server_harness import Received, Server, collect, run_server

pytestmark = pytest.mark.model

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("auth")
    with run_server(root / "data", root / "log", LX_SERVER__AUTH_TOKEN=TOKEN) as srv:
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
