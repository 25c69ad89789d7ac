"""The reliability suite's shared parts: a server with short keepalives, a long recording,
and the figures every check prints and writes to tests/artifacts/reliability.json."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loquilex.audio import decode_file
from loquilex.bench._speech import write_wav
from tests.conftest import Speech
from tests.server_harness import Server, pcm16, run_server

ARTIFACTS = Path(__file__).parent.parent / "artifacts"

#: Keepalive used by the suite's server, so a half-open socket is reaped in 10 s rather
#: than the default 40 s (interval + timeout; the mechanism is the same).
PING_S = 5.0


class Figures:
    """What each check measured, printed as it is taken and saved at the end."""

    def __init__(self) -> None:
        self.values: dict[str, dict[str, Any]] = {}

    def record(self, check: str, **figures: Any) -> None:
        self.values.setdefault(check, {}).update(figures)
        shown = ", ".join(f"{k}={v}" for k, v in figures.items())
        print(f"\n[reliability] {check}: {shown}")


@pytest.fixture(scope="session")
def figures() -> Iterator[Figures]:
    found = Figures()
    yield found
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "reliability.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**previous, **found.values}, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("reliability")
    with run_server(
        root / "data",
        root / "server.log",
        tmp_path_factory.getbasetemp(),
        LX_SERVER__WS_PING_INTERVAL_S=str(PING_S),
        LX_SERVER__WS_PING_TIMEOUT_S=str(PING_S),
        LX_SERVER__MAX_CONNECTIONS="60",
        LX_SERVER__MAX_SESSIONS="8",
    ) as srv:
        yield srv


@pytest.fixture(scope="session")
def audio(speech: Speech) -> bytes:
    """The four-sentence recording (14 s) as PCM16."""
    return pcm16(decode_file(speech.path))


@pytest.fixture(scope="session")
def two_minutes(speech: Speech, tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, Path]:
    """About two minutes of speech (the recording nine times), as PCM16 and as a file."""
    samples = np.tile(decode_file(speech.path), 9)
    path = tmp_path_factory.mktemp("long") / "two-minutes.wav"
    write_wav(path, samples)
    return pcm16(samples), path


def broadcast(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events every viewer of a stream receives (not one connection's private ones)."""
    kinds = ("PARTIAL", "FINALIZED", "STATUS", "SESSION_STARTED", "SESSION_ENDED")
    return [e for e in events if e["type"] in kinds]


def server_errors(server: Server) -> list[str]:
    """Tracebacks and ERROR-level lines in the server's log."""
    lines = server.log.read_text().splitlines()
    return [line for line in lines if "Traceback" in line or " ERROR " in line]
