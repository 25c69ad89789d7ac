"""Enricher: what the conversation layer adds to one stream's finals.

Before a FINALIZED is built, :meth:`extras` (blocking, off the event loop) says who spoke it
(``diarize``) and how (``prosody``, into ``audio_state``); a PARTIAL's tentative speaker
comes from :meth:`partial_speaker`. After it is sent, :meth:`after`
returns the SPEAKER_TURN and SEMANTIC_UPDATE it closed, if any; :meth:`close` those of the
last turn at the end of the stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from loquilex.aggregation import SpeakerChange
from loquilex.asr import UtteranceFinal, UtterancePartial
from loquilex.audio import AudioHistory
from loquilex.config import ConversationConfig
from loquilex.conversation._offline import cluster_settings
from loquilex.conversation._prosody import ProsodyTracker
from loquilex.conversation._semantics import DEFAULT_RISK_LEXICON
from loquilex.conversation._turns import Conversation, ConversationSettings
from loquilex.protocol import Envelope, EventEmitter
from loquilex.speakers import ClusterSettings, Diarizer, VoiceEncoder, encoder_for

__all__ = ["Enricher", "FinalExtras", "build_enricher"]

#: The audio a final covers is widened by this much each side (word times are approximate).
_PAD_S = 0.1
#: A partial's tentative speaker is looked up once its segment holds this much audio (one
#: encoder window), from that first stretch, once per segment (~25 ms of CPU).
_PARTIAL_SPEAKER_S = 1.6
#: Segments whose tentative speaker is remembered (the open one and a few finished ones).
_PARTIAL_MEMORY = 8


@dataclass(frozen=True, slots=True)
class FinalExtras:
    speaker_id: str | None
    audio_state: dict[str, Any]
    split: SpeakerChange | None = None


class Enricher:
    def __init__(
        self,
        emitter: EventEmitter,
        *,
        encoder: VoiceEncoder | None = None,
        prosody: bool = False,
        cluster: ClusterSettings | None = None,
        conversation: ConversationSettings | None = None,
        history_s: float = 60.0,
    ) -> None:
        self.history = AudioHistory(history_s)
        self._partial_speakers: dict[int, str | None] = {}
        self.diarizer = Diarizer(encoder, cluster) if encoder is not None else None
        self.prosody = ProsodyTracker() if prosody else None
        self.prosody_s = 0.0  # CPU seconds spent measuring prosody
        # Turns need speakers: without diarization there is one run and nothing to close.
        self.conversation = Conversation(emitter, conversation) if encoder is not None else None

    def feed(self, samples: Any) -> None:
        self.history.append(samples)

    def partial_speaker_due(self, partial: UtterancePartial) -> bool:
        """Whether :meth:`partial_speaker` would run the encoder (blocking) for this one."""
        return (
            self.diarizer is not None
            and partial.utterance not in self._partial_speakers
            and partial.end - partial.start >= _PARTIAL_SPEAKER_S
        )

    def partial_speaker(self, partial: UtterancePartial) -> str | None:
        """The tentative speaker of a sentence still being spoken (PARTIAL's speaker_id):
        whom its first 1.6 s sound like among the speakers known so far, or None until
        then or when it is like nobody yet. Its FINALIZED may say otherwise."""
        if self.partial_speaker_due(partial) and self.diarizer is not None:
            audio = self.history.between(partial.start, partial.start + _PARTIAL_SPEAKER_S)
            self._partial_speakers[partial.utterance] = self.diarizer.tentative(audio)
            while len(self._partial_speakers) > _PARTIAL_MEMORY:
                del self._partial_speakers[min(self._partial_speakers)]
        return self._partial_speakers.get(partial.utterance)

    def extras(self, final: UtteranceFinal) -> FinalExtras:
        if not final.text.strip():
            return FinalExtras(None, {})
        first = max(final.start - _PAD_S, 0.0)
        audio = self.history.between(first, final.end + _PAD_S)
        speaker = None
        state: dict[str, Any] = {}
        split: SpeakerChange | None = None
        if self.diarizer is not None:
            attribution = self.diarizer.attribute(audio)
            if attribution is not None:
                speaker = attribution.speaker_id
                state["speaker_similarity"] = attribution.similarity
                if attribution.change_at_s is not None and attribution.speaker_after:
                    split = SpeakerChange(
                        first + attribution.change_at_s, attribution.speaker_after, {}
                    )
        if self.prosody is not None:
            began = time.thread_time()
            if split is None:
                state |= self.prosody.measure(audio, final.words, speaker)
            else:
                cut = int((split.at - first) * 16000)
                before = [w for w in final.words if (w.t0 + w.t1) / 2 < split.at]
                after = [w for w in final.words if (w.t0 + w.t1) / 2 >= split.at]
                state |= self.prosody.measure(audio[:cut], before, speaker)
                split.audio_state.update(self.prosody.measure(audio[cut:], after, split.speaker_id))
            self.prosody_s += time.thread_time() - began
        return FinalExtras(speaker, state, split)

    def after(self, envelope: Envelope) -> list[Envelope]:
        return self.conversation.observe(envelope) if self.conversation is not None else []

    def close(self) -> list[Envelope]:
        return self.conversation.close() if self.conversation is not None else []

    def render_context_for_llm(self) -> str:
        return self.conversation.render_context_for_llm() if self.conversation else ""

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.diarizer is not None:
            out |= self.diarizer.stats()
        if self.conversation is not None:
            out |= self.conversation.stats()
        if self.prosody is not None:
            out["prosody_s"] = round(self.prosody_s, 3)
        return out


def build_enricher(
    emitter: EventEmitter,
    settings: ConversationConfig,
    *,
    diarize: bool | None,
    prosody: bool,
) -> Enricher | None:
    """The enricher a stream asked for. ``diarize`` None means the configured default,
    which quietly stays off when the voice encoder is not installed; asking for it
    explicitly then is an error."""
    encoder = encoder_for(diarize, settings.diarize)
    if encoder is None and not prosody:
        return None
    return Enricher(
        emitter,
        encoder=encoder,
        prosody=prosody,
        cluster=cluster_settings(settings),
        conversation=ConversationSettings(
            context_turns=settings.context_turns,
            context_s=settings.context_s,
            risk_lexicon=settings.risk_lexicon or DEFAULT_RISK_LEXICON,
        ),
    )
