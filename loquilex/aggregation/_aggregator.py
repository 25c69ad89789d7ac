"""PartialFinalAggregator: recognised utterances → PARTIAL/FINALIZED envelopes.

It enforces SPEC §2 guarantees 1-3 whatever the recogniser does: each utterance gets one
``seg-N`` id (N from 0, in order of first appearance), zero or more PARTIALs precede exactly
one FINALIZED, anything for a segment after its FINALIZED is discarded, and FINALIZED events
never go backwards in ``ts_audio_start``. It also keeps what a reconnecting client needs to
redraw the screen (:meth:`snapshot`). Pure logic: no I/O, no threads; the clock is injected.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from loquilex.asr import AsrEvent, UtteranceFinal, UtterancePartial
from loquilex.config import EouReason
from loquilex.protocol import (
    Envelope,
    EventEmitter,
    FinalizedPayload,
    FinalSegment,
    PartialPayload,
    PartialSegment,
    SnapshotPayload,
    WordModel,
)
from loquilex.types import Word

__all__ = ["PartialFinalAggregator", "SpeakerChange"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpeakerChange:
    """The voice changed inside an utterance: from ``at`` (stream seconds) on, the words
    are ``speaker_id``'s, with ``audio_state`` of their own."""

    at: float
    speaker_id: str
    audio_state: dict[str, Any]


def _text(words: list[Word]) -> str:
    return " ".join(w.w.strip() for w in words if w.w.strip())


def _words(words: tuple[Word, ...]) -> list[WordModel]:
    return [WordModel(w=w.w, t0=w.t0, t1=w.t1, conf=min(max(w.conf, 0.0), 1.0)) for w in words]


#: Finalized utterances remembered (to discard their late events) before being forgotten.
_MEMORY = 64


@dataclass(slots=True)
class _SegmentState:
    segment_id: str
    opened_at: float  # injected monotonic clock
    final: bool = False


class PartialFinalAggregator:
    """Turns :class:`AsrEvent` into envelopes through one :class:`EventEmitter`."""

    def __init__(
        self,
        emitter: EventEmitter,
        *,
        recent_finals: int = 50,
        clock: Callable[[], float] = time.monotonic,
        speaker_id: str | None = None,
    ) -> None:
        self.emitter = emitter
        self._clock = clock
        self._speaker = speaker_id
        self._segments: dict[int, _SegmentState] = {}
        self._next_segment = 0
        self._last_final_start = float("-inf")
        self._recent: deque[dict[str, Any]] = deque(maxlen=recent_finals)
        self._live: dict[str, Any] | None = None
        self.late_partials = 0
        self.duplicate_finals = 0
        self._forgotten_below = 0  # utterances below this are finalized and forgotten

    def handle(
        self,
        event: AsrEvent,
        *,
        speaker_id: str | None = None,
        audio_state: dict[str, Any] | None = None,
        split: SpeakerChange | None = None,
    ) -> list[Envelope]:
        if isinstance(event, UtterancePartial):
            return self.on_partial(event, speaker_id=speaker_id)
        return self.on_final(event, speaker_id=speaker_id, audio_state=audio_state, split=split)

    def _segment(self, utterance: int) -> _SegmentState:
        state = self._segments.get(utterance)
        if state is None:
            state = _SegmentState(f"seg-{self._next_segment}", self._clock())
            self._next_segment += 1
            self._segments[utterance] = state
        return state

    def _finished(self, utterance: int) -> bool:
        known = self._segments.get(utterance)
        return utterance < self._forgotten_below or (known is not None and known.final)

    def _forget_old(self, utterance: int) -> None:
        """Keep only what SNAPSHOT and the late-event checks need: finalized segments more
        than ``_MEMORY`` utterances back are dropped, so a session of any length stays small."""
        horizon = utterance - _MEMORY
        if horizon <= self._forgotten_below:
            return
        for key in [k for k, st in self._segments.items() if k < horizon and st.final]:
            del self._segments[key]
        self._forgotten_below = horizon

    def on_partial(
        self, event: UtterancePartial, *, speaker_id: str | None = None
    ) -> list[Envelope]:
        """A PARTIAL; ``speaker_id`` is who probably says it (tentative, from the start of
        the sentence), else the session's fixed speaker, if any."""
        if self._finished(event.utterance):
            self.late_partials += 1
            logger.debug("discarding late partial for utterance %d", event.utterance)
            return []
        state = self._segment(event.utterance)
        segment = PartialSegment(
            start=event.start,
            end=event.end,
            text=event.text,
            stable_text=event.stable_text,
            unstable_text=event.text[len(event.stable_text) :].lstrip(),
            speaker_id=speaker_id or self._speaker,
            words=_words(event.stable + event.unstable),
        )
        envelope = self.emitter.emit(
            "PARTIAL",
            PartialPayload(segment=segment, confidence=event.confidence),
            segment_id=state.segment_id,
            ts_audio_start=event.start,
            ts_audio_end=event.end,
        )
        self._live = {"segment_id": state.segment_id, **segment.model_dump(mode="json")}
        return [envelope]

    def on_final(
        self,
        event: UtteranceFinal,
        *,
        speaker_id: str | None = None,
        audio_state: dict[str, Any] | None = None,
        split: SpeakerChange | None = None,
    ) -> list[Envelope]:
        """The FINALIZED of an utterance; ``speaker_id`` and ``audio_state`` come from the
        conversation layer when it is on. With ``split`` (the voice changed inside it) the
        words from the change on become a segment of their own, with a new id, finalized
        right after (no partials ever had that id)."""
        if self._finished(event.utterance):
            self.duplicate_finals += 1
            logger.warning("discarding second FINALIZED for utterance %d", event.utterance)
            return []
        state = self._segment(event.utterance)
        state.final = True
        self._forget_old(event.utterance)
        extra: dict[str, Any] = {
            "utterance": event.utterance,
            "open_s": round(self._clock() - state.opened_at, 3),
            **(
                {"avg_logprob": round(event.avg_logprob, 4)}
                if event.avg_logprob is not None
                else {}
            ),
        }
        if self._live is not None and self._live["segment_id"] == state.segment_id:
            self._live = None
        before, after = list(event.words), []
        if split is not None:
            before = [w for w in event.words if (w.t0 + w.t1) / 2 < split.at]
            after = [w for w in event.words if (w.t0 + w.t1) / 2 >= split.at]
        if not before or not after:
            return [
                self._finalize(
                    state.segment_id,
                    event.start,
                    event.end,
                    event.text,
                    event.words,
                    speaker_id or self._speaker,
                    (audio_state or {}) | extra,
                    event.eou_reason,
                )
            ]
        assert split is not None
        first = self._finalize(
            state.segment_id,
            event.start,
            before[-1].t1,
            _text(before),
            tuple(before),
            speaker_id,
            (audio_state or {}) | extra | {"speaker_change": True},
            "punctuation" if _text(before).endswith((".", "?", "!")) else event.eou_reason,
        )
        second_id = f"seg-{self._next_segment}"
        self._next_segment += 1
        second = self._finalize(
            second_id,
            after[0].t0,
            event.end,
            _text(after),
            tuple(after),
            split.speaker_id,
            split.audio_state | extra,
            event.eou_reason,
        )
        return [first, second]

    def _finalize(
        self,
        segment_id: str,
        start: float,
        end: float,
        text: str,
        words: tuple[Word, ...],
        speaker_id: str | None,
        audio_state: dict[str, Any],
        eou_reason: EouReason,
    ) -> Envelope:
        if start < self._last_final_start:
            logger.warning("clamping %s start %.3f to keep finals monotonic", segment_id, start)
            start = self._last_final_start
        self._last_final_start = start
        end = max(end, start)
        segment = FinalSegment(
            start=start,
            end=end,
            text=text,
            speaker_id=speaker_id,
            words=_words(words),
            audio_state=audio_state,
        )
        envelope = self.emitter.emit(
            "FINALIZED",
            FinalizedPayload(segment=segment, eou_reason=eou_reason),
            segment_id=segment_id,
            ts_audio_start=start,
            ts_audio_end=end,
        )
        if text:
            self._recent.append({"segment_id": segment_id, **segment.model_dump(mode="json")})
        return envelope

    def snapshot(self) -> SnapshotPayload:
        """Recent finals, the live partial and the last event id: enough to redraw a screen."""
        return SnapshotPayload(
            recent_finals=list(self._recent),
            live_partial=dict(self._live) if self._live is not None else None,
            last_event_id=self.emitter.last_event_id,
        )
