"""The lossless transcript model and its JSON form (the format every other is made from)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from loquilex.errors import TranscriptFormatError
from loquilex.types import Segment, Word

__all__ = ["Segment", "Transcript", "TranscriptFormatError", "Word"]

SCHEMA_VERSION = 1


def _segment_dict(segment: Segment) -> dict[str, Any]:
    out = asdict(segment)
    if out["translation"] is None:
        del out["translation"]
    return out


@dataclass(frozen=True, slots=True)
class Transcript:
    """Everything we know about a transcription; JSON round-trips it exactly."""

    segments: tuple[Segment, ...] = ()
    model: str = ""
    language: str = "en"
    duration: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    #: The language of the segments' ``translation`` (None: not translated).
    translation_lang: str | None = None

    @property
    def bilingual(self) -> bool:
        return self.translation_lang is not None and any(s.translation for s in self.segments)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.segments if s.text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": SCHEMA_VERSION,
            "model": self.model,
            "language": self.language,
            "duration": self.duration,
            "segments": [_segment_dict(s) for s in self.segments],
            **({"translation_lang": self.translation_lang} if self.translation_lang else {}),
            **({"extra": self.extra} if self.extra else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2) + "\n"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Transcript:
        try:
            segments = tuple(
                Segment(
                    id=int(s["id"]),
                    start=float(s["start"]),
                    end=float(s["end"]),
                    text=str(s["text"]),
                    words=tuple(
                        Word(str(w["w"]), float(w["t0"]), float(w["t1"]), float(w["conf"]))
                        for w in s.get("words", ())
                    ),
                    speaker_id=s.get("speaker_id"),
                    avg_logprob=s.get("avg_logprob"),
                    no_speech_prob=s.get("no_speech_prob"),
                    translation=s.get("translation"),
                )
                for s in data["segments"]
            )
            return cls(
                segments=segments,
                model=str(data.get("model", "")),
                language=str(data.get("language", "en")),
                duration=float(data.get("duration", 0.0)),
                extra=dict(data.get("extra", {})),
                translation_lang=data.get("translation_lang"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TranscriptFormatError(f"not a LoquiLex transcript: {exc!r}") from exc

    @classmethod
    def from_session_lines(cls, lines: list[str]) -> Transcript:
        """A live session's ``transcript.jsonl``: a header line, then one final per line."""
        header = json.loads(lines[0])
        segments: list[dict[str, Any]] = []
        by_id: dict[str, dict[str, Any]] = {}
        translation_lang = None
        for line in lines[1:]:
            if not line.strip():
                continue
            seg = json.loads(line)
            if seg.get("kind") == "translation":
                target = by_id.get(seg.get("segment_id", ""))
                if target is not None:
                    target["translation"] = seg["text"]
                    translation_lang = seg.get("lang")
                continue
            segments.append({**seg, "id": len(segments)})
            by_id[seg.get("segment_id", "")] = segments[-1]
        duration = max((float(s["end"]) for s in segments), default=0.0)
        return cls.from_dict(
            {
                "model": header.get("model", ""),
                "language": header.get("language", "en"),
                "duration": duration,
                "segments": segments,
                "extra": {"session_id": header.get("session_id")},
                "translation_lang": translation_lang,
            }
        )

    @classmethod
    def load(cls, path: Path) -> Transcript:
        """Read a JSON transcript, or a session's JSON-lines transcript."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise TranscriptFormatError(f"{path}: no such file") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise TranscriptFormatError(f"{path}: not a JSON transcript") from exc
        lines = text.splitlines()
        if lines and '"loquilex-session"' in lines[0]:
            try:
                return cls.from_session_lines(lines)
            except (ValueError, KeyError, TypeError) as exc:
                raise TranscriptFormatError(f"{path}: damaged session transcript") from exc
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise TranscriptFormatError(f"{path}: not a JSON transcript") from exc
        if not isinstance(data, dict):
            raise TranscriptFormatError(f"{path}: not a JSON transcript")
        return cls.from_dict(data)
