"""What a client asks for when it creates a session (REST body or START_SESSION config)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from loquilex.config import stream_overrides_model

__all__ = ["SessionConfig", "StreamOverrides"]


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
        default=None, description="Model id or directory (default model if unset)."
    )
    device: Literal["cpu", "cuda", "auto"] | None = None
    source: Literal["mic", "push", "file"] = "push"
    path: str | None = Field(
        default=None, description="Audio file for source=file (on the server)."
    )
    realtime: bool = Field(
        default=True, description="Replay a file at real time (else as fast as possible)."
    )
    mode: Literal["streaming", "subprocess"] = "streaming"
    translate: bool = False
    target_lang: str = "zh"
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
