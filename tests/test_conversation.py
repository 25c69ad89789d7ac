"""The conversation layer's logic: turns from finals, semantics per turn, prosody, and the
rolling context; fed envelopes built by the real aggregator and emitter."""

from __future__ import annotations

import numpy as np
import pytest

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import UtteranceFinal
from loquilex.conversation import (
    Conversation,
    ConversationSettings,
    KeywordIndex,
    ProsodyTracker,
    count_questions,
    find_actions,
    find_risks,
    measure_pitch,
)
from loquilex.conversation._semantics import DEFAULT_RISK_LEXICON
from loquilex.protocol import Envelope, EventEmitter, server_event_adapter
from loquilex.types import Word


def _final(utterance: int, start: float, end: float, text: str) -> UtteranceFinal:
    words = text.split()
    step = (end - start) / max(len(words), 1)
    return UtteranceFinal(
        utterance=utterance,
        start=start,
        end=end,
        text=text,
        words=tuple(
            Word(w, start + i * step, start + (i + 1) * step, 0.9) for i, w in enumerate(words)
        ),
        eou_reason="punctuation",
        had_partials=True,
    )


def _run(
    finals: list[tuple[str | None, str]], settings: ConversationSettings | None = None
) -> tuple[list[Envelope], Conversation]:
    emitter = EventEmitter()
    aggregator = PartialFinalAggregator(emitter)
    conversation = Conversation(emitter, settings)
    out: list[Envelope] = []
    for index, (speaker, text) in enumerate(finals):
        for envelope in aggregator.handle(
            _final(index, index * 3.0, index * 3.0 + 2.5, text), speaker_id=speaker
        ):
            out.append(envelope)
            out += conversation.observe(envelope)
    out += conversation.close()
    for envelope in out:
        server_event_adapter.validate_python(envelope.model_dump())
    return out, conversation


def test_a_turn_closes_right_after_the_final_of_the_next_speaker() -> None:
    events, _ = _run(
        [
            ("spk-0", "Okay, let's get started."),
            ("spk-0", "Priya, you had the numbers?"),
            ("spk-1", "Right, forty two thousand downloads."),
            ("", ""),  # an empty final belongs to no turn
            ("spk-0", "Great, thanks."),
        ]
    )
    kinds = [(e.type, e.segment_id) for e in events]
    assert kinds == [
        ("FINALIZED", "seg-0"),
        ("FINALIZED", "seg-1"),
        ("FINALIZED", "seg-2"),
        ("SPEAKER_TURN", None),
        ("SEMANTIC_UPDATE", None),
        ("FINALIZED", "seg-3"),
        ("FINALIZED", "seg-4"),
        ("SPEAKER_TURN", None),
        ("SEMANTIC_UPDATE", None),
        ("SPEAKER_TURN", None),
        ("SEMANTIC_UPDATE", None),
    ]
    turns = [e.payload for e in events if e.type == "SPEAKER_TURN"]
    assert turns[0]["turn"] == {
        "id": "turn-0",
        "speaker_id": "spk-0",
        "start": 0.0,
        "end": 5.5,
        "segment_ids": ["seg-0", "seg-1"],
        "text": "Okay, let's get started. Priya, you had the numbers?",
    }
    assert turns[0]["previous_speaker"] is None
    assert [t["turn"]["speaker_id"] for t in turns] == ["spk-0", "spk-1", "spk-0"]
    assert [t["previous_speaker"] for t in turns] == [None, "spk-0", "spk-1"]
    assert turns[1]["turn"]["segment_ids"] == ["seg-2"]
    updates = [e.payload for e in events if e.type == "SEMANTIC_UPDATE"]
    assert [u["turn_id"] for u in updates] == ["turn-0", "turn-1", "turn-2"]
    assert updates[0]["question_count"] == 1
    assert updates[0]["actions"] == [
        {"text": "Okay, let's get started.", "kind": "proposal", "pattern": "lets"}
    ]
    assert [u["context_size"] for u in updates] == [1, 2, 3]


def test_the_rolling_context_keeps_recent_turns_and_renders_for_a_model() -> None:
    finals = [(f"spk-{i % 2}", f"Sentence number {i} about topic {i}.") for i in range(6)]
    _, conversation = _run(finals, ConversationSettings(context_turns=3))
    assert [t.id for t in conversation.context] == ["turn-3", "turn-4", "turn-5"]
    rendered = conversation.render_context_for_llm()
    assert rendered.splitlines() == [
        "[00:09] spk-1: Sentence number 3 about topic 3.",
        "[00:12] spk-0: Sentence number 4 about topic 4.",
        "[00:15] spk-1: Sentence number 5 about topic 5.",
    ]
    _, by_time = _run(finals, ConversationSettings(context_s=5.0))
    assert [t.id for t in by_time.context] == ["turn-4", "turn-5"]


def test_actions_name_their_rule_and_skip_plain_questions() -> None:
    text = (
        "Please send the deck to Maria. I'll follow up with legal tomorrow. "
        "We need to fix the login page. Could you check the logs? What time is it? "
        "Do we need to ship it today? Let's ship it on Monday. The weather is nice. "
        "I will send it tomorrow, is that okay?"
    )
    found = [(a.kind, a.pattern, a.text) for a in find_actions(text)]
    assert found == [
        ("request", "please", "Please send the deck to Maria."),
        ("commitment", "i_will", "I'll follow up with legal tomorrow."),
        ("proposal", "we_need", "We need to fix the login page."),
        ("request", "can_you", "Could you check the logs?"),
        ("proposal", "lets", "Let's ship it on Monday."),
        ("commitment", "i_will", "I will send it tomorrow, is that okay?"),
    ]


def test_questions_are_counted_with_or_without_a_question_mark() -> None:
    assert count_questions("Did it work? It did. How about the rest") == 2
    assert count_questions("Where is it. I know.") == 0
    assert count_questions("") == 0


def test_risk_tags_from_the_default_and_a_configured_lexicon() -> None:
    text = "This is unacceptable, I want to cancel and talk to my lawyer."
    assert find_risks(text, DEFAULT_RISK_LEXICON) == ["escalation", "cancellation", "legal"]
    assert find_risks("the court ruled", {"legal": ["court"], "money": ["invoice"]}) == ["legal"]
    assert find_risks("a courtyard", {"legal": ["court"]}) == []  # whole words only


def test_keywords_prefer_what_this_turn_says_that_others_did_not() -> None:
    index = KeywordIndex()
    index.add("The release went out and the release notes are done.")
    keywords = index.add("The release had crash reports from Brazil; crash reports doubled.")
    assert set(keywords[:2]) == {"crash", "reports"}
    assert "release" not in keywords[:2]
    assert "the" not in keywords and "from" not in keywords


def _voiced(hz: float, seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(16000 * seconds)) / 16000
    wave = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 6))
    return (level * wave / np.max(np.abs(wave))).astype(np.float32)


def test_pitch_of_a_harmonic_voice() -> None:
    for hz in (95.0, 140.0, 220.0):
        measured = measure_pitch(_voiced(hz, 1.0))
        assert measured is not None and abs(measured - hz) / hz < 0.03
    assert measure_pitch(np.zeros(16000, np.float32)) is None
    noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    assert measure_pitch(noise) is None


def _words(count: int, seconds: float) -> tuple[Word, ...]:
    step = seconds / count
    return tuple(Word(f"w{i}", i * step, (i + 0.8) * step, 0.9) for i in range(count))


def test_prosody_levels_are_relative_to_the_speakers_own_baseline() -> None:
    tracker = ProsodyTracker()
    first = tracker.measure(_voiced(120, 2.0), _words(5, 2.0), "spk-0")
    assert first["pitch_level"] == "normal" and first["rendering"] == "[audio: neutral]"
    assert abs(first["pitch_hz"] - 120) < 4 and first["words_per_s"] == pytest.approx(2.6, 0.1)
    tracker.measure(_voiced(122, 2.0), _words(5, 2.0), "spk-0")
    excited = tracker.measure(_voiced(165, 2.0, level=0.9), _words(10, 2.0), "spk-0")
    assert excited["pitch_level"] == "high"
    assert excited["energy_level"] == "loud"
    assert excited["rate_level"] == "fast"
    assert excited["rendering"] == "[audio: high pitch, loud, fast]"
    # Another speaker has a baseline of their own: a deep voice is normal for them.
    other = tracker.measure(_voiced(85, 2.0), _words(5, 2.0), "spk-1")
    assert other["pitch_level"] == "normal"
    low = tracker.measure(_voiced(62, 2.0, level=0.05), _words(5, 2.0), "spk-1")
    assert low["pitch_level"] == "low" and low["energy_level"] == "quiet"


def test_pauses_between_words_are_counted() -> None:
    words = (Word("a", 0.0, 0.3, 1), Word("b", 0.8, 1.0, 1), Word("c", 1.1, 1.3, 1))
    state = ProsodyTracker().measure(_voiced(120, 1.4), words, None)
    assert state["pauses"] == 1 and state["pause_s"] == 0.5


def test_a_final_split_at_a_voice_change_becomes_two_segments_and_closes_the_turn() -> None:
    from loquilex.aggregation import SpeakerChange

    emitter = EventEmitter()
    aggregator = PartialFinalAggregator(emitter)
    conversation = Conversation(emitter)
    final = _final(0, 0.0, 4.0, "Send it today. Sure I will.")
    events: list[Envelope] = []
    for envelope in aggregator.handle(
        final,
        speaker_id="spk-0",
        audio_state={"pitch_hz": 180.0},
        split=SpeakerChange(2.3, "spk-1", {"pitch_hz": 110.0}),
    ):
        events += [envelope, *conversation.observe(envelope)]
    for envelope in aggregator.handle(_final(1, 5.0, 6.0, "Great."), speaker_id="spk-1"):
        events += [envelope, *conversation.observe(envelope)]
    events += conversation.close()
    for envelope in events:
        server_event_adapter.validate_python(envelope.model_dump())
    finals = [e for e in events if e.type == "FINALIZED"]
    assert [(e.segment_id, e.payload["segment"]["speaker_id"]) for e in finals] == [
        ("seg-0", "spk-0"),
        ("seg-1", "spk-1"),
        ("seg-2", "spk-1"),
    ]
    assert finals[0].payload["segment"]["text"] == "Send it today."
    assert finals[0].payload["segment"]["audio_state"]["speaker_change"] is True
    assert finals[0].payload["eou_reason"] == "punctuation"
    assert finals[1].payload["segment"]["text"] == "Sure I will."
    assert finals[1].payload["segment"]["audio_state"]["pitch_hz"] == 110.0
    assert finals[1].ts_audio_start >= finals[0].ts_audio_start
    turns = [e.payload["turn"] for e in events if e.type == "SPEAKER_TURN"]
    assert [(t["speaker_id"], t["segment_ids"]) for t in turns] == [
        ("spk-0", ["seg-0"]),
        ("spk-1", ["seg-1", "seg-2"]),
    ]
