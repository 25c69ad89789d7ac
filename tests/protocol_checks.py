"""Checks of SPEC §2 guarantees and schema validity over a received event stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsonschema

from loquilex.protocol import event_schema

_validator = jsonschema.Draft202012Validator(event_schema())


def check_stream(events: Sequence[dict[str, Any]]) -> None:
    """Every event schema-valid; ids strictly increasing; per segment, partials then exactly
    one FINALIZED and nothing after; FINALIZED monotonic in ts_audio_start; a SPEAKER_TURN
    only after the FINALIZED of every segment in it, a SEMANTIC_UPDATE only after its turn."""
    last_id = 0
    turns: set[str] = set()
    opened: set[str] = set()  # segments this connection saw a PARTIAL of
    finalized: set[str] = set()
    last_start = float("-inf")
    for event in events:
        _validator.validate(event)
        assert event["event_id"] > last_id, (last_id, event["event_id"])
        last_id = event["event_id"]
        seg = event["segment_id"]
        if event["type"] in ("PARTIAL", "FINALIZED"):
            assert seg is not None
            assert seg not in finalized, f"{event['type']} after FINALIZED of {seg}"
        if event["type"] == "SPEAKER_TURN":
            turn = event["payload"]["turn"]
            # A late joiner knows older finals from its SNAPSHOT only; what it saw open must
            # have been finalized before the turn that lists it.
            still_open = (set(turn["segment_ids"]) & opened) - finalized
            assert not still_open, f"turn before its finals: {turn}"
            turns.add(turn["id"])
        if event["type"] == "SEMANTIC_UPDATE":
            assert event["payload"]["turn_id"] in turns
        if event["type"] == "PARTIAL":
            opened.add(seg)
        if event["type"] == "FINALIZED":
            finalized.add(seg)
            assert event["ts_audio_start"] >= last_start
            last_start = event["ts_audio_start"]
    stream_ids = {e["stream_id"] for e in events}
    assert len(stream_ids) <= 1


def final_text(events: Sequence[dict[str, Any]]) -> str:
    return " ".join(
        e["payload"]["segment"]["text"]
        for e in events
        if e["type"] == "FINALIZED" and e["payload"]["segment"]["text"]
    )
