"""Golden-file tests for every exporter, plus the cue-splitting rules."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loquilex.export import FORMATS, Segment, Transcript, Word, render, split_cues

GOLDEN = Path(__file__).parent / "golden"


def _words(text: str, start: float, step: float) -> tuple[Word, ...]:
    return tuple(
        Word(w, round(start + i * step, 3), round(start + (i + 1) * step - 0.02, 3), 0.9)
        for i, w in enumerate(text.split())
    )


LONG = (
    "This sentence is deliberately long so that it has to be split across more than one "
    "cue because it runs well past two lines of forty two characters and seven seconds"
)

CASES: dict[str, Transcript] = {
    "empty": Transcript(model="tiny.en", duration=3.0),
    "one_word": Transcript(
        segments=(Segment(0, 0.5, 0.9, "Hello.", (Word("Hello.", 0.5, 0.9, 0.97),)),),
        model="tiny.en",
        duration=1.2,
    ),
    "escaping": Transcript(
        segments=(
            Segment(
                0, 1.0, 3.5, "Use <b> & a --> arrow", _words("Use <b> & a --> arrow", 1.0, 0.4)
            ),
            Segment(1, 3661.25, 3663.0, "Über café — déjà vu.", ()),
        ),
        model="tiny.en",
        duration=3700.0,
    ),
    "long": Transcript(
        segments=(
            Segment(0, 0.0, 12.0, "Short first.", _words("Short first.", 0.0, 0.5)),
            Segment(1, 12.0, 24.0, LONG, _words(LONG, 12.0, 0.38)),
        ),
        model="tiny.en",
        duration=30.0,
    ),
    "speakers": Transcript(
        segments=(
            Segment(
                0, 0.5, 2.0, "Okay, let's start.", _words("Okay, let's start.", 0.5, 0.5), "spk-0"
            ),
            Segment(1, 2.1, 3.5, "Numbers first?", _words("Numbers first?", 2.1, 0.6), "spk-0"),
            Segment(
                2, 4.0, 6.0, "Downloads went up.", _words("Downloads went up.", 4.0, 0.6), "spk-1"
            ),
            Segment(3, 6.5, 8.0, "Good <news>.", _words("Good <news>.", 6.5, 0.7), "spk-0"),
        ),
        model="tiny.en",
        duration=9.0,
        extra={"speaker_names": {"spk-1": "Priya <PM>"}},
    ),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str, fmt: str) -> None:
    golden = GOLDEN / f"{case}.{fmt}"
    text = render(CASES[case], fmt)
    if os.environ.get("LX_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_json_round_trip_is_exact() -> None:
    for transcript in CASES.values():
        assert Transcript.from_dict(__import__("json").loads(transcript.to_json())) == transcript


def test_long_segment_is_split_within_limits() -> None:
    cues = split_cues(CASES["long"].segments)
    assert len(cues) >= 3
    for cue in cues:
        assert len(cue.lines) <= 2
        assert all(len(line) <= 42 for line in cue.lines)
        assert cue.end - cue.start <= 7.0
    joined = " ".join(" ".join(c.lines) for c in cues[1:])
    assert joined == LONG  # nothing lost or reordered at the word boundaries


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        render(CASES["empty"], "docx")


_word_text = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=15)


@given(st.lists(_word_text, min_size=1, max_size=80), st.floats(0.05, 1.5))
def test_cue_limits_hold_for_any_words(tokens: list[str], step: float) -> None:
    words = tuple(Word(t, i * step, (i + 1) * step, 1.0) for i, t in enumerate(tokens))
    segment = Segment(0, 0.0, len(tokens) * step, " ".join(tokens), words)
    cues = split_cues([segment])
    assert [w for c in cues for line in c.lines for w in line.split()] == tokens
    for cue in cues:
        assert len(cue.lines) <= 2
        assert all(len(line) <= 42 for line in cue.lines)
        # A single word may outlast the limit on its own; a cue of several never does.
        if sum(len(line.split()) for line in cue.lines) > 1:
            assert cue.end - cue.start <= 7.0 + 1e-9


def test_speaker_labels_in_every_format() -> None:
    transcript = CASES["speakers"]
    vtt = render(transcript, "vtt")
    assert "<v Speaker 1>Okay, let's start.</v>" in vtt
    # A name set in the page is escaped: a raw '>' would end the voice tag early.
    assert "<v Priya &lt;PM&gt;>Downloads went up.</v>" in vtt
    assert "<v Speaker 1>Good &lt;news&gt;.</v>" in vtt
    srt = render(transcript, "srt")
    assert "Speaker 1: Okay, let's start." in srt
    assert "\nNumbers first?" in srt  # same speaker: no second prefix
    assert "Priya <PM>: Downloads went up." in srt
    txt = render(transcript, "txt").splitlines()
    assert txt == [
        "Speaker 1: Okay, let's start.",
        "Numbers first?",
        "Priya <PM>: Downloads went up.",
        "Speaker 1: Good <news>.",
    ]
