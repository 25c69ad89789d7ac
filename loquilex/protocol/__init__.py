"""The wire protocol: event envelope, payloads, client messages, generated JSON Schema."""

from loquilex.protocol._emitter import EventEmitter, new_stream_id
from loquilex.protocol._events import (
    EVENT_TYPES,
    Envelope,
    ErrorPayload,
    EventType,
    FinalizedPayload,
    FinalSegment,
    PartialPayload,
    PartialSegment,
    ServerEvent,
    SessionEndedPayload,
    SessionStartedPayload,
    SnapshotPayload,
    StatusPayload,
    TranslationPayload,
    WordModel,
    server_event_adapter,
)
from loquilex.protocol._schema import event_schema, generate_event_schema

__all__ = [
    "EVENT_TYPES",
    "Envelope",
    "ErrorPayload",
    "EventEmitter",
    "EventType",
    "FinalSegment",
    "FinalizedPayload",
    "PartialPayload",
    "PartialSegment",
    "ServerEvent",
    "SessionEndedPayload",
    "SessionStartedPayload",
    "SnapshotPayload",
    "StatusPayload",
    "TranslationPayload",
    "WordModel",
    "event_schema",
    "generate_event_schema",
    "new_stream_id",
    "server_event_adapter",
]
