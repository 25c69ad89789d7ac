"""Stream settings: the one typed declaration of every streaming knob.

:class:`StreamConfig` is what ``Settings.stream`` holds (defaults, environment, profile),
what a session's ``stream`` overrides are checked against (:func:`stream_overrides_model`
derives that model from this one, so a knob is declared once), and what
:class:`StreamingASR` reads.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

__all__ = ["EouReason", "StreamConfig", "VadKind", "stream_overrides_model"]

EouReason = Literal["silence", "punctuation", "max_duration", "forced", "end_of_stream"]
VadKind = Literal["silero", "energy", "hybrid"]


class StreamConfig(BaseModel):
    """Streaming knobs (seconds unless noted). Frozen: a session keeps the one it started with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    vad: VadKind = Field(
        default="hybrid",
        description="Voice activity detector: 'hybrid' (speech where either of the next two "
        "hears it: whispered and hoarse voices too), 'silero' (neural) or 'energy' (adaptive "
        "level gate, no model).",
    )
    vad_threshold: float = Field(
        default=0.35, gt=0, lt=1, description="Speech probability that opens speech."
    )
    vad_neg_threshold: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        description="Probability under which speech is over (hysteresis); default "
        "vad_threshold - 0.15.",
    )
    decode_interval_s: float = Field(
        default=0.7, gt=0, le=5, description="New audio between partial re-decodes."
    )
    first_decode_s: float = Field(
        default=0.5, ge=0.1, le=5, description="Speech before the first partial decode."
    )
    partial_beam: int = Field(default=1, ge=1, le=10, description="Beam of partial decodes.")
    final_beam: int = Field(default=5, ge=1, le=10, description="Beam of final decodes.")
    eou_silence_s: float = Field(
        default=0.5, gt=0.1, le=5, description="Trailing silence that ends an utterance."
    )
    punct_pause_s: float = Field(
        default=0.25,
        gt=0.05,
        le=5,
        description="Silence after which the final decode runs; complete sentences in it "
        "are final right there.",
    )
    sentence_context_s: float = Field(
        default=0.3,
        ge=0.1,
        le=3,
        description="Audio a sentence end needs after it before it is final without a pause.",
    )
    clause_min_words: int = Field(
        default=6,
        ge=0,
        le=50,
        description="A comma the final beam confirms ends a final once that final has this "
        "many words (run-together and run-on sentences); a shorter clause ends one only where "
        "the final beam writes a full stop instead; 0: only sentence ends the quick decode "
        "shows do.",
    )
    clause_context_s: float = Field(
        default=1.0,
        ge=0.1,
        le=3,
        description="Audio a comma needs after it before it ends a final without a pause.",
    )
    max_segment_s: float = Field(
        default=12.0, ge=2, le=28, description="Longest utterance before a cut between words."
    )
    min_speech_s: float = Field(
        default=0.2, ge=0, le=2, description="Utterances with less speech are dropped."
    )
    preroll_s: float = Field(
        default=0.3, ge=0, le=1, description="Audio kept before speech starts (onsets)."
    )
    commit_lag_s: float = Field(
        default=2.5, ge=0, le=10, description="Right context before a word is stable."
    )
    left_context_s: float = Field(
        default=2.0, ge=0, le=5, description="Stable audio re-heard before the unstable part."
    )
    prompt_words: int = Field(
        default=40, ge=0, le=200, description="Words of earlier text that prompt the decoder."
    )
    max_backlog_s: float = Field(
        default=1.5, gt=0, description="Waiting audio over which partial decodes are skipped."
    )
    no_speech_threshold: float = Field(
        default=0.6,
        gt=0,
        le=1,
        description="A decode this sure of silence, and below logprob_threshold, is dropped.",
    )
    logprob_threshold: float = Field(default=-1.0, le=0, description="See no_speech_threshold.")
    unvoiced_no_speech_threshold: float = Field(
        default=0.7,
        gt=0,
        le=1,
        description="Audio that only the level gate heard as speech (no voice model did: a "
        "whisper, or a held chord or hum): a decode of it this sure of silence is dropped, "
        "whatever its log-probability.",
    )
    unvoiced_logprob_threshold: float = Field(
        default=-0.75,
        le=0,
        description="Audio that only the level gate heard as speech: a decode with a lower "
        "average log-probability is dropped, whatever its no-speech probability (keeps a "
        'breath or sigh from becoming "Thank you.").',
    )

    @property
    def effective_neg_threshold(self) -> float:
        if self.vad_neg_threshold is not None:
            return min(self.vad_neg_threshold, self.vad_threshold)
        return max(self.vad_threshold - 0.15, 0.01)

    def with_overrides(self, overrides: BaseModel | dict[str, Any] | None) -> StreamConfig:
        """A copy with the given (non-None) values replaced, validated like the original."""
        if overrides is None:
            return self
        values = (
            overrides.model_dump(exclude_none=True)
            if isinstance(overrides, BaseModel)
            else {k: v for k, v in overrides.items() if v is not None}
        )
        return StreamConfig.model_validate({**self.model_dump(), **values})


def stream_overrides_model() -> type[BaseModel]:
    """A model with every :class:`StreamConfig` field optional (None: keep the server's),
    with the same bounds and descriptions: what a session may send as ``stream``."""
    fields: dict[str, Any] = {}
    for name, info in StreamConfig.model_fields.items():
        optional = FieldInfo(default=None, description=info.description)
        optional.metadata = list(info.metadata)  # the bounds (gt/ge/lt/le) of the original
        annotation: Any = info.annotation
        fields[name] = (annotation | None, optional)
    model: type[BaseModel] = create_model(
        "StreamOverrides",
        __config__=ConfigDict(extra="forbid"),
        __doc__="Per-session streaming knobs; unset values come from the server settings.",
        **fields,
    )
    return model
