"""What a client asks for when it creates a session (REST body or START_SESSION config)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loquilex.config import stream_overrides_model

__all__ = ["SESSION_ID_PATTERN", "SessionConfig", "StreamOverrides", "is_session_id"]

#: A session id is a UUID in its canonical lower-case form; nothing else is ever looked up
#: or joined to a path.
SESSION_ID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
_SESSION_ID = re.compile(SESSION_ID_PATTERN)


def is_session_id(value: str) -> bool:
    return len(value) == 36 and _SESSION_ID.match(value) is not None


if TYPE_CHECKING:
    StreamOverrides = BaseModel
else:
    #: Per-session streaming knobs: every ``StreamConfig`` field, optional, same bounds.
    StreamOverrides = stream_overrides_model()


class SessionConfig(BaseModel):
    """A session's settings; they travel with the session, never through globals."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"source": "push", "sample_rate": 48000, "audio_format": "f32le"},
                {"source": "file", "path": "/home/me/talk.wav", "mode": "subprocess"},
                {"source": "mic", "model": "base", "stream": {"eou_silence_s": 0.8}},
            ]
        },
    )

    model: str | None = Field(
        default=None,
        max_length=200,
        description="Installed model id, or a directory under the models directory "
        "(default model if unset).",
    )
    device: Literal["cpu", "cuda", "auto"] | None = None
    source: Literal["mic", "push", "file"] = "push"
    path: str | None = Field(
        default=None,
        max_length=1024,
        description="Audio file for source=file, relative to the server's media directory.",
    )
    realtime: bool = Field(
        default=True, description="Replay a file at real time (else as fast as possible)."
    )
    mode: Literal["streaming", "subprocess"] = "streaming"
    translate: bool = Field(default=False, description="Translate captions live (SPEC §7).")
    target_lang: str = Field(
        default="zh", max_length=16, description="Target language (see /languages/mt/{id})."
    )
    mt_model: str | None = Field(
        default=None,
        max_length=100,
        description="Installed translation model id, or 'chat' for the configured endpoint "
        "(default: mt.model, else opus-mt-en-zh if installed).",
    )
    diarize: bool | None = Field(
        default=None,
        description="Attribute finals to speakers (speaker_id, SPEAKER_TURN, SEMANTIC_UPDATE); "
        "default: the server's conversation.diarize, on when the voice encoder is installed.",
    )
    prosody: bool = Field(
        default=False,
        description="Describe pitch, energy and speaking rate of each final in audio_state.",
    )
    metrics_interval_s: float | None = Field(
        default=None,
        ge=0.5,
        le=3600,
        description="Send a METRICS event this often (final latency p50/p95, partial "
        "cadence, real-time factor); off when unset.",
    )
    sample_rate: int = Field(default=16000, ge=8000, le=192000)
    channels: int = Field(default=1, ge=1, le=8)
    audio_format: Literal["pcm_s16le", "f32le"] = "pcm_s16le"
    stream: StreamOverrides = Field(default_factory=StreamOverrides)

    @model_validator(mode="after")
    def _coherent(self) -> SessionConfig:
        if self.source == "file" and not self.path:
            raise ValueError("source 'file' needs 'path'")
        if self.source != "file" and self.path:
            raise ValueError("'path' is only for source 'file'")
        if self.mode == "subprocess" and self.source == "push":
            raise ValueError("subprocess sessions read a file or the microphone, not pushed audio")
        return self
