"""Server → client events: the envelope and every payload (SPEC §2), as pydantic models.

The JSON Schema shipped with the package and served at ``/schema/events`` is generated from
these models (``python -m loquilex.protocol``), never written by hand.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter

__all__ = [
    "EVENT_TYPES",
    "ActionItem",
    "Envelope",
    "ErrorCode",
    "ErrorPayload",
    "EventType",
    "FinalSegment",
    "FinalizedPayload",
    "PartialPayload",
    "PartialSegment",
    "SemanticUpdatePayload",
    "ServerEvent",
    "SessionEndedPayload",
    "SessionStartedPayload",
    "SnapshotPayload",
    "SpeakerTurn",
    "SpeakerTurnPayload",
    "StatusPayload",
    "TranslationPayload",
    "WordModel",
    "server_event_adapter",
]

EventType = Literal[
    "SESSION_STARTED",
    "SESSION_ENDED",
    "PONG",
    "STATUS",
    "PARTIAL",
    "FINALIZED",
    "TRANSLATION",
    "SNAPSHOT",
    "SPEAKER_TURN",
    "SEMANTIC_UPDATE",
    "METRICS",
    "ERROR",
]
EVENT_TYPES: tuple[str, ...] = EventType.__args__  # type: ignore[attr-defined]

ErrorCode = Literal[
    "ASR_TIMEOUT",
    "ASR_FAILURE",
    "ENRICHMENT_FAILURE",
    "SEQUENCE_ERROR",
    "BUFFER_OVERFLOW",
    "RESUME_GAP",
    "SESSION_ERROR",
    "INVALID_MESSAGE",
    "RATE_LIMITED",
    "UNAUTHORIZED",
]
EouReason = Literal["silence", "punctuation", "max_duration", "forced", "end_of_stream"]
Stage = Literal["initializing", "warming", "operational", "paused", "stopping", "error"]


class _Open(BaseModel):
    """Payloads may carry extra optional fields (SPEC: "add optional fields freely")."""

    model_config = ConfigDict(extra="allow")


class WordModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    w: str
    t0: float
    t1: float
    conf: float = Field(ge=0, le=1)


class PartialSegment(_Open):
    start: float
    end: float
    text: str
    stable_text: str = Field(description="Prefix of text that will not change any more.")
    unstable_text: str
    speaker_id: str | None = None
    words: list[WordModel]


class FinalSegment(_Open):
    start: float
    end: float
    text: str
    speaker_id: str | None = None
    words: list[WordModel]
    audio_state: dict[str, Any] = Field(default_factory=dict)


class SessionStartedPayload(_Open):
    session_id: str
    config: dict[str, Any]


class SessionEndedPayload(_Open):
    stats: dict[str, Any]


class PongPayload(_Open):
    timestamp: float | int | str | None


class StatusPayload(_Open):
    stage: Stage
    message: str


class PartialPayload(_Open):
    segment: PartialSegment
    confidence: float = Field(ge=0, le=1)


class FinalizedPayload(_Open):
    segment: FinalSegment
    eou_reason: EouReason


class TranslationPayload(_Open):
    source_segment_id: str
    lang: str
    text: str
    final: bool
    source_text: str | None = None
    model: str | None = None
    latency_ms: int | None = Field(default=None, ge=0)


class SnapshotPayload(_Open):
    recent_finals: list[dict[str, Any]]
    live_partial: dict[str, Any] | None
    last_event_id: int = Field(ge=0)
    #: The latest TRANSLATION payload of each recent final and of the live partial.
    translations: list[dict[str, Any]] = Field(default_factory=list)
    #: The SPEAKER_TURN payloads of recent closed turns, oldest first (diarized sessions).
    turns: list[dict[str, Any]] = Field(default_factory=list)


class SpeakerTurn(_Open):
    id: str
    speaker_id: str | None
    start: float
    end: float
    segment_ids: list[str]
    text: str


class SpeakerTurnPayload(_Open):
    turn: SpeakerTurn
    previous_speaker: str | None


class ActionItem(_Open):
    """A request, proposal or commitment in a turn, and the rule that found it."""

    text: str
    kind: Literal["request", "proposal", "commitment"]
    pattern: str


class SemanticUpdatePayload(_Open):
    turn_id: str
    speaker_id: str | None = None
    keywords: list[str]
    risk_tags: list[str]
    actions: list[ActionItem]
    question_count: int = Field(ge=0)
    context_size: int = Field(ge=0)


class MetricsPayload(_Open):
    """A session's performance budgets so far (SPEC §2 METRICS; opt-in per session with
    ``metrics_interval_s``). Latencies and intervals are over the most recent ``window``
    finals and partials; None until there is one."""

    final_latency_p50_s: float | None = None
    final_latency_p95_s: float | None = None
    final_latency_max_s: float | None = None
    partial_interval_p50_s: float | None = None
    partial_interval_p95_s: float | None = None
    real_time_factor: float | None = None
    audio_s: float = 0.0
    decode_s: float = 0.0
    finals: int = 0
    partials: int = 0
    window: int = 0


class ErrorPayload(_Open):
    code: ErrorCode
    message: str
    recoverable: bool
    details: dict[str, Any] = Field(default_factory=dict)


class _EnvelopeBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event_id: int = Field(ge=1, description="Strictly increasing per stream, never reused.")
    stream_id: str = Field(
        pattern=r"^str-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
    )
    segment_id: str | None = Field(pattern=r"^seg-(0|[1-9][0-9]*)$")
    ts_server: int = Field(description="Unix epoch milliseconds when the event was created.")
    ts_audio_start: float | None
    ts_audio_end: float | None


class SessionStartedEvent(_EnvelopeBase):
    type: Literal["SESSION_STARTED"]
    payload: SessionStartedPayload


class SessionEndedEvent(_EnvelopeBase):
    type: Literal["SESSION_ENDED"]
    payload: SessionEndedPayload


class PongEvent(_EnvelopeBase):
    type: Literal["PONG"]
    payload: PongPayload


class StatusEvent(_EnvelopeBase):
    type: Literal["STATUS"]
    payload: StatusPayload


class PartialEvent(_EnvelopeBase):
    type: Literal["PARTIAL"]
    payload: PartialPayload


class FinalizedEvent(_EnvelopeBase):
    type: Literal["FINALIZED"]
    payload: FinalizedPayload


class TranslationEvent(_EnvelopeBase):
    type: Literal["TRANSLATION"]
    payload: TranslationPayload


class SnapshotEvent(_EnvelopeBase):
    type: Literal["SNAPSHOT"]
    payload: SnapshotPayload


class SpeakerTurnEvent(_EnvelopeBase):
    type: Literal["SPEAKER_TURN"]
    payload: SpeakerTurnPayload


class SemanticUpdateEvent(_EnvelopeBase):
    type: Literal["SEMANTIC_UPDATE"]
    payload: SemanticUpdatePayload


class MetricsEvent(_EnvelopeBase):
    type: Literal["METRICS"]
    payload: MetricsPayload


class ErrorEvent(_EnvelopeBase):
    type: Literal["ERROR"]
    payload: ErrorPayload


_PAYLOADS: dict[str, type[BaseModel]] = {
    "SESSION_STARTED": SessionStartedPayload,
    "SESSION_ENDED": SessionEndedPayload,
    "PONG": PongPayload,
    "STATUS": StatusPayload,
    "PARTIAL": PartialPayload,
    "FINALIZED": FinalizedPayload,
    "TRANSLATION": TranslationPayload,
    "SNAPSHOT": SnapshotPayload,
    "SPEAKER_TURN": SpeakerTurnPayload,
    "SEMANTIC_UPDATE": SemanticUpdatePayload,
    "METRICS": MetricsPayload,
    "ERROR": ErrorPayload,
}

#: Any server → client message, discriminated on ``type``.
ServerEvent = Annotated[
    SessionStartedEvent
    | SessionEndedEvent
    | PongEvent
    | StatusEvent
    | PartialEvent
    | FinalizedEvent
    | TranslationEvent
    | SnapshotEvent
    | SpeakerTurnEvent
    | SemanticUpdateEvent
    | MetricsEvent
    | ErrorEvent,
    Field(discriminator="type"),
]
server_event_adapter: TypeAdapter[Any] = TypeAdapter(ServerEvent)


class Envelope(BaseModel):
    """The wire envelope as the pipeline builds it; ``payload`` already validated by type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: int
    stream_id: str
    segment_id: str | None
    type: EventType
    ts_server: int
    ts_audio_start: float | None
    ts_audio_end: float | None
    payload: dict[str, Any]
    #: The wire text, made once: an event fanned out to N clients is serialized once, not N
    #: times (an envelope is frozen, and nothing edits its payload once built).
    _json: str | None = PrivateAttr(default=None)

    def to_json(self) -> str:
        if self._json is None:
            self._json = self.model_dump_json()
        return self._json

    def __eq__(self, other: object) -> bool:
        """Equal fields: whether the wire text was made yet does not count."""
        if not isinstance(other, Envelope):
            return NotImplemented
        return self.__dict__ == other.__dict__

    @classmethod
    def from_json(cls, text: str) -> Envelope:
        """An envelope read back from its wire text (which it then sends as it came)."""
        envelope = cls.model_validate_json(text)
        envelope._json = text
        return envelope

    @classmethod
    def build(
        cls,
        *,
        event_id: int,
        stream_id: str,
        type: EventType,
        payload: BaseModel,
        ts_server: int,
        segment_id: str | None = None,
        ts_audio_start: float | None = None,
        ts_audio_end: float | None = None,
    ) -> Envelope:
        expected = _PAYLOADS[type]
        if not isinstance(payload, expected):
            raise TypeError(f"{type} takes {expected.__name__}, got {payload.__class__.__name__}")
        return cls(
            event_id=event_id,
            stream_id=stream_id,
            segment_id=segment_id,
            type=type,
            ts_server=ts_server,
            ts_audio_start=ts_audio_start,
            ts_audio_end=ts_audio_end,
            payload=payload.model_dump(mode="json"),
        )
