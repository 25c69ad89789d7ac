"""Client → server messages (SPEC §3), parsed with one discriminated-union TypeAdapter."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, TypeAdapter, ValidationError

from loquilex.errors import InvalidMessage

__all__ = [
    "AnyClientMessage",
    "AudioChunk",
    "Authenticate",
    "ClientMessage",
    "EndSession",
    "InvalidMessage",
    "Ping",
    "ResumeSession",
    "StartSession",
    "parse_client_message",
]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StartSession(_Message):
    type: Literal["START_SESSION"]
    config: dict[str, Any] = Field(default_factory=dict)


class AudioChunk(_Message):
    type: Literal["AUDIO_CHUNK"]
    data: str = Field(description="base64 of PCM in the session's audio format")
    sequence: StrictInt = Field(ge=0, le=2**63 - 1)

    def pcm(self) -> bytes:
        try:
            return base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidMessage("AUDIO_CHUNK data is not valid base64") from exc


class EndSession(_Message):
    type: Literal["END_SESSION"]


class Ping(_Message):
    type: Literal["PING"]
    timestamp: float | int | str | None = None


class ResumeSession(_Message):
    type: Literal["RESUME_SESSION"]
    stream_id: str = Field(max_length=64)
    last_event_id: StrictInt = Field(ge=0, le=2**63 - 1)
    sender_key: str | None = Field(
        default=None,
        max_length=128,
        description="The session's sender key: resume as the connection that sends audio.",
    )


class Authenticate(_Message):
    type: Literal["AUTHENTICATE"]
    token: str = Field(max_length=4096)


ClientMessage = Annotated[
    StartSession | AudioChunk | EndSession | Ping | ResumeSession | Authenticate,
    Field(discriminator="type"),
]
AnyClientMessage = StartSession | AudioChunk | EndSession | Ping | ResumeSession | Authenticate
_adapter: TypeAdapter[AnyClientMessage] = TypeAdapter(ClientMessage)


def parse_client_message(text: str | bytes) -> AnyClientMessage:
    """Parse one text frame; raise :class:`InvalidMessage` with a precise reason."""
    try:
        raw = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidMessage("message is not valid JSON") from exc
    except RecursionError as exc:
        raise InvalidMessage("message is nested too deeply") from exc
    if not isinstance(raw, dict) or "type" not in raw:
        raise InvalidMessage("message must be a JSON object with a 'type'")
    try:
        return _adapter.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        if first["type"] == "union_tag_invalid":
            raise InvalidMessage(
                f"unknown message type {raw.get('type')!r}", {"type": raw.get("type")}
            ) from exc
        raise InvalidMessage(
            f"invalid {raw.get('type')}: {where}: {first['msg']}", {"field": where}
        ) from exc
