"""REST routes against a real `loquilex serve` on 127.0.0.1."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from loquilex.bench import word_error_rate
from loquilex.config import load_settings
from loquilex.protocol import event_schema
from loquilex.server import create_app
from loquilex.telemetry import Telemetry
from tests.conftest import STREAM_WER_BOUND, Speech, loquilex_bin
from tests.server_harness import Server, controls, run_server

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("rest")
    with run_server(
        root / "data",
        root / "server.log",
        tmp_path_factory.getbasetemp(),
        LX_SERVER__MAX_SESSIONS="3",
    ) as srv:
        yield srv


def _wait_ended(client: httpx.Client, session_id: str, timeout: float = 60) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = client.get(f"/sessions/{session_id}").json()
        if info["state"] in ("ended", "error"):
            return info
        time.sleep(0.2)
    raise AssertionError("session did not end")


def test_health_schema_models(server: Server) -> None:
    with server.http() as c:
        health = c.get("/healthz").json()
        assert health["status"] == "ok" and health["model"] == "tiny.en"
        assert c.get("/schema/events").json() == event_schema()
        models = {m["id"]: m for m in c.get("/models/asr").json()}
        assert models["tiny.en"]["installed"] and models["tiny.en"]["default"]
        # The translation catalogue, none of it installed (nothing ships with LoquiLex).
        mt = {m["id"]: m for m in c.get("/models/mt").json()}
        assert set(mt) == {"opus-mt-en-zh", "m2m100_418M", "nllb-200-distilled-600M"}
        assert not any(m["installed"] for m in mt.values())
        assert mt["opus-mt-en-zh"]["install"] == "loquilex models install opus-mt-en-zh"
        assert c.get("/languages/mt/opus-mt-en-zh").status_code == 404
        spec = c.get("/openapi.json").json()
        assert "/sessions/{session_id}/transcript" in spec["paths"]
        assert spec["components"]["schemas"]["SessionConfig"]["examples"]


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/sessions/{}"),
        ("get", "/sessions/{}/snapshot"),
        ("get", "/sessions/{}/metrics"),
        ("post", "/sessions/{}/pause"),
        ("post", "/sessions/{}/resume"),
        ("post", "/sessions/{}/finalize"),
        ("delete", "/sessions/{}"),
        ("get", "/sessions/{}/transcript"),
    ],
)
def test_unknown_session_is_404_and_a_malformed_id_is_422(
    server: Server, method: str, path: str
) -> None:
    unknown = "abcdef00-0000-4000-8000-000000000000"
    with server.http() as c:
        response = c.request(method.upper(), path.format(unknown))
        assert response.status_code == 404
        assert response.json() == {"detail": f"no session {unknown}"}
        for bad in ("nope", "x" * 300, unknown.upper()):
            response = c.request(method.upper(), path.format(bad))
            assert response.status_code == 422, (bad, response.text)
            assert "session_id" in response.text


@pytest.mark.parametrize(
    "body,status,needle",
    [
        ({"source": "radio"}, 422, "source"),
        ({"source": "file"}, 422, "path"),
        ({"sample_rate": 100}, 422, "sample_rate"),
        ({"bogus": 1}, 422, "bogus"),
        ({"mode": "subprocess", "source": "push"}, 422, "subprocess"),
        ({"translate": True}, 422, "models install opus-mt-en-zh"),
        ({"model": "gigantic"}, 422, "unknown model"),
        ({"source": "file", "path": "/no/such.wav"}, 422, "no audio file"),
        ({"source": "mic"}, 422, "microphone"),
    ],
)
def test_bad_bodies(server: Server, body: dict[str, object], status: int, needle: str) -> None:
    with server.http() as c:
        response = c.post("/sessions", json=body)
    assert response.status_code == status, response.text
    assert needle in json.dumps(response.json())


def test_session_cap_is_429(server: Server) -> None:
    with server.http() as c:
        made = []
        try:
            for _ in range(3):
                response = c.post("/sessions", json={"source": "push"})
                assert response.status_code == 201
                made.append(response.json())
            over = c.post("/sessions", json={"source": "push"})
            assert over.status_code == 429
            assert "max_sessions" in over.json()["detail"]
            # Deleting takes the creator's key; with the id alone it is refused.
            assert c.delete(f"/sessions/{made[0]['session_id']}").status_code == 403
        finally:
            for created in made:
                response = c.delete(f"/sessions/{created['session_id']}", headers=controls(created))
                assert response.status_code == 200
        assert c.post("/sessions", json={"source": "push"}).status_code == 201


def test_foreign_origin_and_host_are_refused(server: Server) -> None:
    with server.http() as c:
        r = c.post("/sessions", json={}, headers={"Origin": "https://evil.example"})
        assert r.status_code == 403 and r.json() == {"detail": "Origin not allowed"}
        r = c.get("/sessions", headers={"Host": "rebind.evil.example"})
        assert r.status_code == 403 and r.json() == {"detail": "Host not allowed"}
        ok = c.get("/sessions", headers={"Origin": "http://localhost:3000"})
        assert ok.status_code == 200


def test_file_session_transcript_survives_delete_and_restart(
    server: Server, speech: Speech, tmp_path: Path
) -> None:
    with server.http() as c:
        created = c.post(
            "/sessions", json={"source": "file", "path": str(speech.path), "realtime": False}
        )
        assert created.status_code == 201, created.text
        sid = created.json()["session_id"]
        key = controls(created.json())
        info = _wait_ended(c, sid)
        assert info["state"] == "ended"
        # One segment per sentence, or a few more where Whisper heard a sentence end mid-way.
        assert len(speech.clips) <= info["transcript_segments"] <= len(speech.clips) + 2
        txt = c.get(f"/sessions/{sid}/transcript", params={"format": "txt"})
        assert txt.headers["content-type"].startswith("text/plain")
        assert word_error_rate(speech.text, txt.text) <= STREAM_WER_BOUND
        vtt = c.get(f"/sessions/{sid}/transcript", params={"format": "vtt"}).text
        assert vtt.startswith("WEBVTT\n\n1\n")
        assert c.get(f"/sessions/{sid}/transcript", params={"format": "docx"}).status_code == 422
        assert c.delete(f"/sessions/{sid}", headers=key).status_code == 200
        assert c.get(f"/sessions/{sid}").status_code == 404
        assert c.get(f"/sessions/{sid}/transcript", params={"format": "vtt"}).text == vtt

    # A new server process on the same data dir still serves it, and `loquilex export`
    # reads the session's transcript file directly.
    with run_server(server.data_dir, tmp_path / "second.log") as second, second.http() as c:
        assert c.get(f"/sessions/{sid}/transcript", params={"format": "vtt"}).text == vtt
    exported = subprocess.run(
        [
            loquilex_bin(),
            "export",
            str(server.data_dir / "sessions" / sid / "transcript.jsonl"),
            "-f",
            "vtt",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout == vtt


class _ExplodingManager:
    default_model = "tiny.en"
    telemetry = Telemetry()

    async def warm_up(self) -> None:
        return None

    def start(self) -> None:
        return None

    async def shutdown(self, wait_s: float = 8.0) -> None:
        return None

    def list(self) -> list[object]:
        raise RuntimeError("secret internal detail /home/someone")


def test_500_never_leaks_exception_text(tmp_path: Path) -> None:
    settings, _ = load_settings(overrides={"data_dir": str(tmp_path)})
    app = create_app(settings, manager=_ExplodingManager())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False, base_url="http://127.0.0.1") as client:
        response = client.get("/sessions")
        openai_shaped = client.get("/v1/models")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal server error"}
    assert "secret" not in response.text
    assert openai_shaped.status_code == 500
    assert openai_shaped.json()["error"]["message"] == "internal server error"
