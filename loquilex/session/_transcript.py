"""Per-session transcript: every FINALIZED appended as one JSON line, as it happens.

``DATA_DIR/sessions/SESSION_ID/transcript.jsonl``: a header line, then one line per final
segment. ``loquilex.export.Transcript.load`` reads it, so REST and ``loquilex export`` work
after the session has ended and after a server restart.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, TextIO

from loquilex.export import Transcript

__all__ = ["TranscriptWriter", "session_dir", "transcript_path"]


def session_dir(data_dir: Path, session_id: str) -> Path:
    return data_dir / "sessions" / session_id


def transcript_path(data_dir: Path, session_id: str) -> Path:
    return session_dir(data_dir, session_id) / "transcript.jsonl"


class TranscriptWriter:
    """Appends and flushes each final segment, so a crash loses nothing already final."""

    def __init__(self, path: Path, header: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._fh: TextIO | None = path.open("a", encoding="utf-8")
        self._write({"kind": "loquilex-session", "created": time.time(), **header})
        self.segments = 0

    def _write(self, obj: dict[str, Any]) -> None:
        if self._fh is None:
            raise RuntimeError("transcript is closed")
        self._fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
        self._fh.flush()

    def append(self, segment_id: str, segment: dict[str, Any]) -> None:
        self._write({"segment_id": segment_id, **segment})
        self.segments += 1

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None

    def load(self) -> Transcript:
        return Transcript.load(self.path)
