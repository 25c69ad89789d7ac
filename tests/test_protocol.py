"""The shipped JSON Schema is the one the models generate, and it accepts what we emit."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
from pydantic import ValidationError

from loquilex.protocol import (
    EventEmitter,
    StatusPayload,
    TranslationPayload,
    event_schema,
    generate_event_schema,
    server_event_adapter,
)


def test_shipped_schema_matches_models() -> None:
    shipped = json.loads(
        resources.files("loquilex.protocol").joinpath("events.schema.json").read_text()
    )
    assert shipped == json.loads(json.dumps(generate_event_schema())), (
        "run `python -m loquilex.protocol` to regenerate the schema"
    )


def test_envelope_ids_and_fields() -> None:
    emitter = EventEmitter(wall_ms=lambda: 42)
    first = emitter.emit("STATUS", StatusPayload(stage="operational", message="ok"))
    second = emitter.emit(
        "TRANSLATION",
        TranslationPayload(source_segment_id="seg-0", lang="zh", text="你好", final=True),
    )
    assert (first.event_id, second.event_id) == (1, 2)
    assert first.stream_id == second.stream_id and first.stream_id.startswith("str-")
    data = json.loads(second.to_json())
    assert set(data) == {
        "event_id",
        "stream_id",
        "segment_id",
        "type",
        "ts_server",
        "ts_audio_start",
        "ts_audio_end",
        "payload",
    }
    jsonschema.validate(data, event_schema())
    assert "你好" in second.to_json()


def test_schema_rejects_what_spec_forbids() -> None:
    emitter = EventEmitter()
    good = json.loads(emitter.emit("STATUS", StatusPayload(stage="paused", message="")).to_json())
    for bad in (
        {**good, "extra_field": 1},
        {**good, "event_id": 0},
        {**good, "segment_id": "segment-1"},
        {**good, "stream_id": "not-a-stream"},
        {**good, "payload": {"stage": "sleeping", "message": ""}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, event_schema())
        with pytest.raises(ValidationError):
            server_event_adapter.validate_python(bad)


def test_payload_type_must_match_event_type() -> None:
    with pytest.raises(TypeError, match="StatusPayload"):
        EventEmitter().emit("PARTIAL", StatusPayload(stage="paused", message=""))
