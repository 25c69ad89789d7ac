"""PartialFinalAggregator: SPEC §2 guarantees 1-3 as hypothesis properties, and the snapshot."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import AsrEvent, UtteranceFinal, UtterancePartial
from loquilex.protocol import Envelope, EventEmitter, server_event_adapter
from loquilex.types import Word


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def _partial(utt: int, start: float, text: str, stable_words: int = 0) -> UtterancePartial:
    words = text.split()
    ws = tuple(Word(w, start + i * 0.3, start + i * 0.3 + 0.25, 0.9) for i, w in enumerate(words))
    stable = " ".join(words[:stable_words])
    return UtterancePartial(
        utt,
        start,
        start + len(words) * 0.3,
        ws[:stable_words],
        ws[stable_words:],
        stable,
        text,
        0.9,
    )


def _final(utt: int, start: float, text: str, reason: str = "silence") -> UtteranceFinal:
    words = tuple(
        Word(w, start + i * 0.3, start + i * 0.3 + 0.25, 0.9) for i, w in enumerate(text.split())
    )
    return UtteranceFinal(
        utt,
        start,
        start + len(words) * 0.3,
        words,
        text,
        reason,  # type: ignore[arg-type]
        True,
        -0.2,
    )


_events = st.lists(
    st.tuples(
        st.booleans(),
        st.integers(0, 6),
        st.floats(0, 60, allow_nan=False),
        st.text(alphabet="abc ", min_size=0, max_size=12),
    ),
    max_size=60,
)


def _check_guarantees(envelopes: list[Envelope]) -> None:
    ids = [e.event_id for e in envelopes]
    assert ids == sorted(set(ids)) and (not ids or ids[0] == 1)
    finalized: set[str] = set()
    last_start = float("-inf")
    seen_order: list[str] = []
    for env in envelopes:
        server_event_adapter.validate_json(env.to_json())
        seg = env.segment_id
        assert seg is not None and re.fullmatch(r"seg-\d+", seg)
        if seg not in seen_order:
            seen_order.append(seg)
        assert seg not in finalized, f"{env.type} after FINALIZED of {seg}"
        if env.type == "FINALIZED":
            finalized.add(seg)
            assert env.ts_audio_start is not None and env.ts_audio_start >= last_start
            last_start = env.ts_audio_start
    assert seen_order == [f"seg-{i}" for i in range(len(seen_order))]


@settings(max_examples=200, deadline=None)
@given(_events)
def test_guarantees_hold_for_any_event_sequence(raw: list[tuple[bool, int, float, str]]) -> None:
    agg = PartialFinalAggregator(EventEmitter(wall_ms=lambda: 1), clock=FakeClock())
    out: list[Envelope] = []
    for is_final, utt, start, text in raw:
        event: AsrEvent = _final(utt, start, text) if is_final else _partial(utt, start, text)
        out += agg.handle(event)
    _check_guarantees(out)


def test_late_partial_and_duplicate_final_are_discarded() -> None:
    agg = PartialFinalAggregator(EventEmitter(), clock=FakeClock())
    assert len(agg.handle(_partial(0, 1.0, "hello wor", 1))) == 1
    assert len(agg.handle(_final(0, 1.0, "hello world.", "punctuation"))) == 1
    assert agg.handle(_partial(0, 1.0, "hello world and")) == []
    assert agg.handle(_final(0, 1.0, "hello world.")) == []
    assert agg.late_partials == 1 and agg.duplicate_finals == 1


def test_payload_shape_and_snapshot() -> None:
    clock = FakeClock()
    agg = PartialFinalAggregator(EventEmitter(wall_ms=lambda: 1234), clock=clock)
    (partial,) = agg.handle(_partial(3, 2.0, "good morning every", 2))
    assert partial.segment_id == "seg-0"
    seg = partial.payload["segment"]
    assert seg["stable_text"] == "good morning" and seg["unstable_text"] == "every"
    assert [w["w"] for w in seg["words"]] == ["good", "morning", "every"]
    assert partial.ts_server == 1234
    snap = agg.snapshot()
    assert snap.live_partial is not None and snap.live_partial["segment_id"] == "seg-0"
    (final,) = agg.handle(_final(3, 2.0, "good morning everyone."))
    assert final.payload["segment"]["audio_state"]["open_s"] == 0.25
    snap = agg.snapshot()
    assert snap.live_partial is None
    assert [f["text"] for f in snap.recent_finals] == ["good morning everyone."]
    assert snap.last_event_id == 2


def test_empty_final_closes_a_segment_that_showed_partials() -> None:
    agg = PartialFinalAggregator(EventEmitter(), clock=FakeClock())
    agg.handle(_partial(0, 0.0, "thank"))
    (final,) = agg.handle(_final(0, 0.0, ""))
    assert final.payload["segment"]["text"] == ""
    assert agg.snapshot().recent_finals == []


def test_a_long_session_keeps_only_what_the_snapshot_needs() -> None:
    """10,000 utterances: state stays bounded, and late events of forgotten utterances are
    still discarded rather than opening new segments."""
    agg = PartialFinalAggregator(EventEmitter(), clock=FakeClock(), recent_finals=50)
    for utterance in range(10_000):
        agg.handle(_partial(utterance, float(utterance), "word", 0))
        agg.handle(_final(utterance, float(utterance), "word."))
    assert len(agg._segments) <= 65
    assert len(agg.snapshot().recent_finals) == 50
    assert agg.handle(_partial(3, 3.0, "late", 0)) == []
    assert agg.handle(_final(9_000, 9_000.0, "again.")) == []
    assert agg.late_partials == 1 and agg.duplicate_finals == 1
