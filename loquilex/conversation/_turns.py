"""Conversation: speaker turns from finals, SEMANTIC_UPDATE per turn, a rolling context.

A turn is the run of finals by one speaker. It closes when a final by someone else arrives
(or the stream ends), and its SPEAKER_TURN goes out right after the FINALIZED that closed it
(SPEC guarantee 4), followed at once by the turn's SEMANTIC_UPDATE. The rolling context keeps
the last ``context_turns`` turns within ``context_s`` seconds of audio, for
:meth:`render_context_for_llm`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from loquilex.conversation._semantics import (
    DEFAULT_RISK_LEXICON,
    KeywordIndex,
    count_questions,
    find_actions,
    find_risks,
)
from loquilex.protocol import (
    ActionItem,
    Envelope,
    EventEmitter,
    SemanticUpdatePayload,
    SpeakerTurn,
    SpeakerTurnPayload,
)

__all__ = ["Conversation", "ConversationSettings", "Turn"]


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    context_turns: int = 20
    context_s: float = 300.0
    keywords: int = 5
    risk_lexicon: Mapping[str, Sequence[str]] = field(
        default_factory=lambda: dict(DEFAULT_RISK_LEXICON)
    )


@dataclass(slots=True)
class Turn:
    id: str
    speaker_id: str | None
    start: float
    end: float
    segment_ids: list[str] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(t for t in self.texts if t)


class Conversation:
    """Fed every FINALIZED of a stream, in order; returns the envelopes to send after it."""

    def __init__(self, emitter: EventEmitter, settings: ConversationSettings | None = None):
        self.emitter = emitter
        self.settings = settings or ConversationSettings()
        self._open: Turn | None = None
        self._previous_speaker: str | None = None
        self._next = 0
        self._keywords = KeywordIndex()
        self.context: deque[Turn] = deque()
        self.turns = 0

    def observe(self, envelope: Envelope) -> list[Envelope]:
        if envelope.type != "FINALIZED":
            return []
        segment = envelope.payload["segment"]
        text = segment["text"].strip()
        speaker = segment.get("speaker_id")
        if not text:
            return []
        out: list[Envelope] = []
        if self._open is not None and self._open.speaker_id != speaker:
            out = self._close()
        if self._open is None:
            self._open = Turn(f"turn-{self._next}", speaker, segment["start"], segment["end"])
            self._next += 1
        turn = self._open
        turn.end = max(turn.end, segment["end"])
        turn.segment_ids.append(envelope.segment_id or "")
        turn.texts.append(text)
        return out

    def close(self) -> list[Envelope]:
        """The open turn's SPEAKER_TURN and SEMANTIC_UPDATE (end of stream)."""
        return self._close() if self._open is not None else []

    def _close(self) -> list[Envelope]:
        turn = self._open
        assert turn is not None
        self._open = None
        previous, self._previous_speaker = self._previous_speaker, turn.speaker_id
        self.turns += 1
        self.context.append(turn)
        cutoff = turn.end - self.settings.context_s
        while len(self.context) > self.settings.context_turns or self.context[0].end < cutoff:
            self.context.popleft()
        spoken = SpeakerTurn(
            id=turn.id,
            speaker_id=turn.speaker_id,
            start=round(turn.start, 3),
            end=round(turn.end, 3),
            segment_ids=list(turn.segment_ids),
            text=turn.text,
        )
        return [
            self.emitter.emit(
                "SPEAKER_TURN",
                SpeakerTurnPayload(turn=spoken, previous_speaker=previous),
                ts_audio_start=spoken.start,
                ts_audio_end=spoken.end,
            ),
            self.emitter.emit(
                "SEMANTIC_UPDATE",
                self.analyse(turn),
                ts_audio_start=spoken.start,
                ts_audio_end=spoken.end,
            ),
        ]

    def analyse(self, turn: Turn) -> SemanticUpdatePayload:
        text = turn.text
        return SemanticUpdatePayload(
            turn_id=turn.id,
            speaker_id=turn.speaker_id,
            keywords=self._keywords.add(text, self.settings.keywords),
            risk_tags=find_risks(text, self.settings.risk_lexicon),
            actions=[ActionItem.model_validate(a.as_dict()) for a in find_actions(text)],
            question_count=count_questions(text),
            context_size=len(self.context),
        )

    def render_context_for_llm(self) -> str:
        """The rolling context as a plain transcript a language model can be given."""
        lines = []
        for turn in self.context:
            who = turn.speaker_id or "speaker"
            lines.append(f"[{_clock(turn.start)}] {who}: {turn.text}")
        if self._open is not None:
            lines.append(f"[{_clock(self._open.start)}] {self._open.speaker_id}: {self._open.text}")
        return "\n".join(lines)

    def stats(self) -> dict[str, Any]:
        return {"turns": self.turns}


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
