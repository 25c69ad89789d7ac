"""Per-session transcript: every FINALIZED appended as one JSON line, as it happens, and
the final TRANSLATION of each after it.

``DATA_DIR/sessions/SESSION_ID/transcript.jsonl``: a header line, then one line per final
segment. ``loquilex.export.Transcript.load`` reads it, so REST and ``loquilex export`` work
after the session has ended and after a server restart.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, TextIO

from loquilex.export import Transcript
from loquilex.protocol import Envelope

__all__ = [
    "TranscriptWriter",
    "load_speaker_names",
    "save_speaker_names",
    "session_dir",
    "speaker_names_path",
    "transcript_path",
    "transcript_record",
]

logger = logging.getLogger(__name__)


def session_dir(data_dir: Path, session_id: str) -> Path:
    return data_dir / "sessions" / session_id


def transcript_path(data_dir: Path, session_id: str) -> Path:
    return session_dir(data_dir, session_id) / "transcript.jsonl"


def speaker_names_path(data_dir: Path, session_id: str) -> Path:
    """People's names for a session's speakers (set in the page), beside its transcript."""
    return session_dir(data_dir, session_id) / "speakers.json"


def save_speaker_names(path: Path, names: dict[str, str]) -> None:
    """Replace the names file atomically: a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_suffix(".tmp")
    scratch.write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
    scratch.replace(path)


def load_speaker_names(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        logger.warning("ignoring unreadable speaker names %s", path)
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def transcript_record(envelope: Envelope) -> dict[str, Any] | None:
    """The transcript line an event makes: a final with text, or a final's translation."""
    payload = envelope.payload
    if envelope.type == "FINALIZED" and payload["segment"]["text"]:
        return {"segment_id": envelope.segment_id or "", **payload["segment"]}
    if envelope.type == "TRANSLATION" and payload["final"]:
        return {
            "kind": "translation",
            "segment_id": payload["source_segment_id"],
            "lang": payload["lang"],
            "text": payload["text"],
        }
    return None


class TranscriptWriter:
    """Appends and flushes each final segment, so a crash loses nothing already final.

    With an ``executor`` the file work (open, write, flush, close) runs there, never on the
    event loop, in the order it was asked for: lines queue here and one job at a time
    drains them.
    """

    def __init__(self, path: Path, header: dict[str, Any], executor: Executor | None = None):
        self.path = path
        self._executor = executor
        self._fh: TextIO | None = None
        self._pending: deque[str | None] = deque()  # None: close once written
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._draining = False
        self._closed = False
        self.segments = 0
        #: The file's first line (cluster mode copies it to Redis with the finals).
        self.header = {"kind": "loquilex-session", "created": time.time(), **header}
        self._write(self.header)

    def _write(self, obj: dict[str, Any] | None) -> None:
        if self._closed:
            raise RuntimeError("transcript is closed")
        line = None if obj is None else json.dumps(obj, ensure_ascii=False) + "\n"
        with self._lock:
            self._pending.append(line)
            if self._draining:
                return
            self._draining = True
        if self._executor is None:
            self._drain()
        else:
            self._executor.submit(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._pending:
                    self._draining = False
                    self._idle.notify_all()
                    return
                lines = list(self._pending)
                self._pending.clear()
            try:
                self._write_lines(lines)
            except OSError:
                logger.exception("cannot write transcript %s", self.path)

    def _write_lines(self, lines: list[str | None]) -> None:
        for line in lines:
            if line is None:
                if self._fh is not None:
                    self._fh.close()
                continue
            if self._fh is None or self._fh.closed:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fh = self.path.open("a", encoding="utf-8")
            self._fh.write(line)
        if self._fh is not None and not self._fh.closed:
            self._fh.flush()

    def append(self, record: dict[str, Any]) -> None:
        """One :func:`transcript_record`: a final segment, or a final's translation (which
        follows the segment's own line)."""
        self._write(record)
        if record.get("kind") != "translation":
            self.segments += 1

    def close(self) -> None:
        if not self._closed:
            self._write(None)
            self._closed = True

    def wait_written(self, timeout_s: float = 5.0) -> bool:
        """Block until every line asked for so far is on disk (for readers of the file)."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._draining, timeout_s)

    def load(self) -> Transcript:
        return Transcript.load(self.path)
