"""StreamingASR: live audio in, partial and final utterances out.

Per stream, in audio time (so behaviour is the same at real time and in fast replay):

* Silero VAD scores each 32 ms window. Speech opens an utterance (with 0.3 s of pre-roll).
* While speech continues, the unstable part of the utterance is re-decoded every
  ``decode_interval_s`` of new audio, together with ``left_context_s`` of the stable part
  before it, whose words are forced as the decoder prefix; earlier text is the prompt. A word
  becomes stable when two consecutive decodes agree on it and it ends at least
  ``commit_lag_s`` before the decoded audio does (so it was heard with right context). Stable
  words are never recognised again, so they cannot change.
* End of utterance: ``punct_pause_s`` of silence triggers the final decode (larger beam); if
  it ends a sentence the utterance is final at once, otherwise it becomes final at
  ``eou_silence_s``, reusing that decode. An utterance reaching ``max_segment_s`` is cut after
  its last stable word. ``request_finalize`` and ``end`` force it.
* Stable and finalized audio leaves the decode window, so the cost of a decode stays bounded
  however long the stream runs; the buffer keeps only the open utterance.

Threading: ``feed``/``request_finalize``/``end`` may be called from any thread; ``process``
runs the VAD and the decodes and must be called from one thread at a time (the scheduler's
worker, or the caller in synchronous use).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from loquilex.asr._buffer import AudioBuffer
from loquilex.asr._engine import AsrEngine
from loquilex.asr._stabilize import (
    agree,
    clean_tail,
    drop_overlap,
    ends_sentence,
    is_hallucination,
    norm_word,
)
from loquilex.asr._vad import WINDOW, SileroVad, SpeechScorer
from loquilex.audio import SAMPLE_RATE
from loquilex.export import Word

__all__ = [
    "AsrEvent",
    "AsrStats",
    "StreamConfig",
    "StreamingASR",
    "UtteranceFinal",
    "UtterancePartial",
]

logger = logging.getLogger(__name__)

EouReason = Literal["silence", "punctuation", "max_duration", "forced", "end_of_stream"]


@dataclass(frozen=True, slots=True)
class StreamConfig:
    """Streaming knobs (seconds unless noted).

    Attributes:
      decode_interval_s: new audio between partial re-decodes while speech continues.
      partial_beam / final_beam: beam sizes of partial and final decodes.
      vad_threshold: Silero probability that counts as speech; ``vad_neg_threshold`` (default
        threshold − 0.15) is the level below which speech is over (hysteresis).
      eou_silence_s: trailing silence that ends an utterance.
      punct_pause_s: silence after which the final decode runs; a sentence-final result ends
        the utterance right there.
      max_segment_s: longest utterance before a cut at the last stable word.
      min_speech_s: utterances with less VAD speech than this are dropped undecoded.
      preroll_s: audio kept before the first speech window, so onsets are not clipped.
      commit_lag_s: right context a word needs before it may become stable.
      left_context_s: stable audio re-heard before the unstable part, its words forced.
      prompt_words: how many words of earlier text condition the decoder.
      max_backlog_s: when more audio than this waits, partial decodes are skipped to catch up.
    """

    decode_interval_s: float = 0.7
    partial_beam: int = 1
    final_beam: int = 5
    vad_threshold: float = 0.5
    vad_neg_threshold: float | None = None
    eou_silence_s: float = 0.5
    punct_pause_s: float = 0.25
    max_segment_s: float = 12.0
    min_speech_s: float = 0.2
    preroll_s: float = 0.3
    commit_lag_s: float = 1.5
    left_context_s: float = 2.0
    prompt_words: int = 40
    max_backlog_s: float = 1.5

    @classmethod
    def from_settings(cls, settings: Any) -> StreamConfig:
        """Build from ``Settings.stream`` (or any object with matching attributes)."""
        names = [f for f in cls.__dataclass_fields__ if hasattr(settings, f)]
        return cls(**{name: getattr(settings, name) for name in names})


@dataclass(frozen=True, slots=True)
class UtterancePartial:
    """The live hypothesis of utterance ``utterance``: ``stable`` words never change."""

    utterance: int
    start: float
    end: float
    stable: tuple[Word, ...]
    unstable: tuple[Word, ...]
    stable_text: str
    text: str
    confidence: float


@dataclass(frozen=True, slots=True)
class UtteranceFinal:
    """The final text of utterance ``utterance``; ``words`` may be empty when everything
    decoded turned out to be noise after partials were already shown."""

    utterance: int
    start: float
    end: float
    words: tuple[Word, ...]
    text: str
    eou_reason: EouReason
    had_partials: bool
    avg_logprob: float | None = None


AsrEvent = UtterancePartial | UtteranceFinal


@dataclass(slots=True)
class AsrStats:
    """Counters for metrics and benchmarks."""

    audio_s: float = 0.0
    partial_decodes: int = 0
    final_decodes: int = 0
    skipped_partials: int = 0
    decode_s: float = 0.0
    max_window_s: float = 0.0
    dropped_utterances: int = 0
    finals: int = 0


@dataclass(slots=True)
class _Utterance:
    index: int
    start: int  # absolute sample
    speech_samples: int = 0
    silence_run: int = 0
    last_decode: int = 0
    window: int = 0  # absolute sample where the next decode starts (after stable words)
    committed: list[Word] = field(default_factory=list)
    extension: str = ""  # punctuation the last decode appended to the last stable word
    unconfirmed: list[Word] = field(default_factory=list)
    candidate: list[Word] | None = None
    candidate_logprob: float | None = None
    emitted: bool = False
    last_partial: tuple[str, str] | None = None


def _join(words: list[str]) -> str:
    return " ".join(w for w in words if w)


class StreamingASR:
    """One live stream's recogniser. See the module docstring for the behaviour."""

    def __init__(
        self,
        engine: AsrEngine,
        config: StreamConfig | None = None,
        *,
        vad: SpeechScorer | None = None,
    ) -> None:
        self.engine = engine
        self.config = config or StreamConfig()
        self._vad = vad if vad is not None else SileroVad()
        cfg = self.config
        self._neg_threshold = (
            cfg.vad_neg_threshold
            if cfg.vad_neg_threshold is not None
            else max(cfg.vad_threshold - 0.15, 0.01)
        )
        self._lock = threading.Lock()
        self._pending: list[npt.NDArray[np.float32]] = []
        self._pending_samples = 0
        self._finalize_requested = False
        self._ended = False
        self._closed = False
        self._buffer = AudioBuffer()
        self._vad_pos = 0  # absolute sample up to which VAD has run
        self._in_speech = False
        self._utt: _Utterance | None = None
        self._next_index = 0
        self._history: list[str] = []
        self.stats = AsrStats()

    # -- input side (any thread) -----------------------------------------------------------
    def feed(self, samples: npt.NDArray[np.float32]) -> None:
        """Queue 16 kHz mono float32 samples."""
        if len(samples) == 0:
            return
        with self._lock:
            if self._ended:
                raise RuntimeError("stream already ended")
            self._pending.append(np.asarray(samples, dtype=np.float32))
            self._pending_samples += len(samples)

    def request_finalize(self) -> None:
        """Finalize the open utterance at the next ``process``."""
        with self._lock:
            self._finalize_requested = True

    def end(self) -> None:
        """No more audio: the next ``process`` flushes the open utterance."""
        with self._lock:
            self._ended = True

    @property
    def closed(self) -> bool:
        """True once ``end`` was processed: nothing more will come out."""
        return self._closed

    @property
    def has_work(self) -> bool:
        with self._lock:
            return (
                bool(self._pending)
                or self._finalize_requested
                or (self._ended and not self._closed)
            )

    @property
    def lag_s(self) -> float:
        """Audio received but not yet through VAD and decoding."""
        with self._lock:
            pending = self._pending_samples
        return (pending + self._buffer.end - self._vad_pos) / SAMPLE_RATE

    @property
    def buffered_s(self) -> float:
        return (self._buffer.end - self._buffer.start) / SAMPLE_RATE

    # -- processing side (one thread) --------------------------------------------------------
    def process(self) -> list[AsrEvent]:
        """Run VAD and whatever decodes are due over everything fed so far."""
        with self._lock:
            chunks, self._pending, self._pending_samples = self._pending, [], 0
            finalize, self._finalize_requested = self._finalize_requested, False
            ended = self._ended
        if self._closed:
            return []
        if chunks:
            audio = np.concatenate(chunks)
            self._buffer.append(audio)
            self.stats.audio_s += len(audio) / SAMPLE_RATE
        backlog = (self._buffer.end - self._vad_pos) / SAMPLE_RATE
        events = self._run_vad()
        if finalize and self._utt is not None:
            events += self._finish(self._vad_pos, "forced")
            if self._in_speech:
                self._open(self._vad_pos)
        if ended:
            events += self._finish(self._buffer.end, "end_of_stream") if self._utt else []
            self._closed = True
            return events
        utt = self._utt
        if (
            utt is not None
            and utt.silence_run < self.config.punct_pause_s * SAMPLE_RATE
            and self._vad_pos - utt.last_decode >= self.config.decode_interval_s * SAMPLE_RATE
            and utt.speech_samples >= self.config.min_speech_s * SAMPLE_RATE
        ):
            if backlog > self.config.max_backlog_s:
                self.stats.skipped_partials += 1
            else:
                events += self._partial(utt)
        return events

    def _run_vad(self) -> list[AsrEvent]:
        count = (self._buffer.end - self._vad_pos) // WINDOW
        if count <= 0:
            return []
        audio = self._buffer.view(self._vad_pos, self._vad_pos + count * WINDOW)
        context = self._buffer.view(self._vad_pos - 64, self._vad_pos)
        if len(context) < 64:
            context = np.concatenate([np.zeros(64 - len(context), np.float32), context])
        probs = self._vad.score(audio.reshape(-1, WINDOW), context)
        events: list[AsrEvent] = []
        for prob in probs:
            self._vad_pos += WINDOW
            events += self._on_window(float(prob))
        return events

    def _on_window(self, prob: float) -> list[AsrEvent]:
        cfg = self.config
        speech = prob >= cfg.vad_threshold or (self._in_speech and prob >= self._neg_threshold)
        self._in_speech = speech
        end = self._vad_pos
        utt = self._utt
        if utt is None:
            if speech:
                self._open(end - WINDOW)
            else:
                self._buffer.trim(end - int(cfg.preroll_s * SAMPLE_RATE))
            return []
        if speech:
            utt.speech_samples += WINDOW
            utt.silence_run = 0
            utt.candidate = None
        else:
            utt.silence_run += WINDOW
            silence = utt.silence_run / SAMPLE_RATE
            if utt.speech_samples < cfg.min_speech_s * SAMPLE_RATE:
                if silence >= cfg.eou_silence_s:
                    self._drop()
                return []
            if silence >= cfg.punct_pause_s and utt.candidate is None:
                utt.candidate, utt.candidate_logprob = self._final_words(utt, end)
                if utt.candidate and ends_sentence(utt.candidate[-1].w):
                    return self._emit_final(utt, utt.candidate, "punctuation", end)
            if silence >= cfg.eou_silence_s:
                if utt.candidate is None:
                    utt.candidate, utt.candidate_logprob = self._final_words(utt, end)
                return self._emit_final(utt, utt.candidate, "silence", end)
        if (end - utt.start) / SAMPLE_RATE >= cfg.max_segment_s:
            return self._cut(utt, end)
        return []

    # -- utterance lifecycle -------------------------------------------------------------------
    def _open(self, speech_start: int) -> None:
        start = max(self._buffer.start, speech_start - int(self.config.preroll_s * SAMPLE_RATE))
        self._utt = _Utterance(
            index=self._next_index,
            start=start,
            window=start,
            last_decode=speech_start,
            speech_samples=WINDOW if self._in_speech else 0,
        )
        self._next_index += 1

    def _drop(self) -> None:
        self.stats.dropped_utterances += 1
        self._utt = None
        self._buffer.trim(self._vad_pos - int(self.config.preroll_s * SAMPLE_RATE))

    def _finish(self, end: int, reason: EouReason) -> list[AsrEvent]:
        utt = self._utt
        if utt is None:
            return []
        if utt.speech_samples < self.config.min_speech_s * SAMPLE_RATE and not utt.emitted:
            self._drop()
            return []
        if utt.candidate is None or utt.silence_run == 0:
            utt.candidate, utt.candidate_logprob = self._final_words(utt, end)
        return self._emit_final(utt, utt.candidate, reason, end)

    def _cut(self, utt: _Utterance, end: int) -> list[AsrEvent]:
        """Max duration: finalize the stable words, carry the rest into a new utterance."""
        if utt.committed and utt.window - utt.start >= SAMPLE_RATE:
            event = self._final_event(utt, tuple(utt.committed), "max_duration", None)
            self._utt = _Utterance(
                index=self._next_index,
                start=utt.window,
                window=utt.window,
                last_decode=utt.last_decode,
                speech_samples=max(end - utt.window, 0),
            )
            self._next_index += 1
            self._remember(event.text)
            return [event]
        words, _logprob = self._final_words(utt, end)
        events = self._emit_final(utt, words, "max_duration", end)
        if self._in_speech:
            self._open(end)
        return events

    # -- decoding ----------------------------------------------------------------------------
    def _window(self, utt: _Utterance) -> tuple[int, list[Word]]:
        """Where the next decode starts, and the stable words it re-hears (to be forced)."""
        target = utt.window - int(self.config.left_context_s * SAMPLE_RATE)
        start, forced = utt.window, list[Word]()
        for word in reversed(utt.committed):
            word_start = int(word.t0 * SAMPLE_RATE)
            if word_start < target or word_start < utt.start:
                break
            forced.insert(0, word)
            start = word_start
        return max(start, utt.start), forced

    def _decode(self, utt: _Utterance, end: int, *, final: bool) -> tuple[list[Word], str, float]:
        """Decode the unstable part: cleaned new words on the stream clock, punctuation that
        extends the last stable word, and the average log-probability."""
        cfg = self.config
        start, forced = self._window(utt)
        audio = self._buffer.view(start, end)
        before = utt.committed[: len(utt.committed) - len(forced)]
        context = [*self._history, *(w.w for w in before)][-cfg.prompt_words :]
        started = time.perf_counter()
        hyp = self.engine.decode(
            audio,
            prompt=" ".join(context),
            prefix=[w.w for w in forced],
            beam_size=cfg.final_beam if final else cfg.partial_beam,
        )
        self.stats.decode_s += time.perf_counter() - started
        self.stats.max_window_s = max(self.stats.max_window_s, len(audio) / SAMPLE_RATE)
        if final:
            self.stats.final_decodes += 1
        else:
            self.stats.partial_decodes += 1
        utt.last_decode = end
        extension = ""
        if forced and hyp.prefix_len:
            returned, last = hyp.words[hyp.prefix_len - 1].text, forced[-1].w
            if returned.startswith(last) and not norm_word(returned[len(last) :]):
                extension = returned[len(last) :]
        if is_hallucination(hyp):
            return [], extension, hyp.avg_logprob
        offset = start / SAMPLE_RATE
        new = clean_tail(
            hyp.words[hyp.prefix_len :], len(audio) / SAMPLE_RATE, hyp.words[: hyp.prefix_len]
        )
        words = [
            Word(w.text, round(w.t0 + offset, 3), round(w.t1 + offset, 3), round(w.prob, 4))
            for w in new
        ]
        words = drop_overlap(utt.committed, words)
        while words and utt.committed and not norm_word(words[0].w):
            extension += words.pop(0).w  # "library" + "." heard as a word of its own
        return words, extension, hyp.avg_logprob

    def _partial(self, utt: _Utterance) -> list[AsrEvent]:
        end = self._vad_pos
        words, extension, _ = self._decode(utt, end, final=False)
        horizon = end / SAMPLE_RATE - self.config.commit_lag_s
        confirmed = agree(utt.unconfirmed, words, keep_last=True)
        while confirmed and words[confirmed - 1].t1 > horizon:
            confirmed -= 1
        if confirmed:
            if extension:
                self._extend_last(utt.committed, extension)
                extension = ""
            utt.committed += words[:confirmed]
            utt.window = max(utt.window, int(words[confirmed - 1].t1 * SAMPLE_RATE))
        utt.extension = extension
        utt.unconfirmed = words[confirmed:]
        stable_text = _join([w.w for w in utt.committed])
        unstable_text = _join([w.w for w in utt.unconfirmed])
        text = (
            stable_text + extension + (" " if stable_text and unstable_text else "") + unstable_text
        )
        if not text or (stable_text, text) == utt.last_partial:
            return []
        utt.last_partial = (stable_text, text)
        utt.emitted = True
        shown = [*utt.committed, *utt.unconfirmed]
        confidence = float(np.mean([w.conf for w in shown])) if shown else 0.0
        return [
            UtterancePartial(
                utterance=utt.index,
                start=shown[0].t0 if shown else utt.start / SAMPLE_RATE,
                end=end / SAMPLE_RATE,
                stable=tuple(utt.committed),
                unstable=tuple(utt.unconfirmed),
                stable_text=stable_text,
                text=text,
                confidence=round(min(max(confidence, 0.0), 1.0), 4),
            )
        ]

    @staticmethod
    def _extend_last(words: list[Word], extension: str) -> None:
        last = words[-1]
        words[-1] = Word(last.w + extension, last.t0, last.t1, last.conf)

    def _final_words(self, utt: _Utterance, end: int) -> tuple[list[Word], float | None]:
        """Stable words plus a final (larger-beam) decode of the rest of the utterance."""
        words = list(utt.committed)
        logprob = None
        if end > utt.window + WINDOW:
            tail, extension, logprob = self._decode(utt, end, final=True)
            if extension and words:
                self._extend_last(words, extension)
            words += tail
        return words, logprob

    def _emit_final(
        self, utt: _Utterance, words: list[Word], reason: EouReason, end: int
    ) -> list[AsrEvent]:
        self._utt = None
        self._buffer.trim(end - int(self.config.preroll_s * SAMPLE_RATE))
        if not words and not utt.emitted:
            self.stats.dropped_utterances += 1
            return []
        event = self._final_event(utt, tuple(words), reason, utt.candidate_logprob)
        self._remember(event.text)
        return [event]

    def _final_event(
        self, utt: _Utterance, words: tuple[Word, ...], reason: EouReason, logprob: float | None
    ) -> UtteranceFinal:
        self.stats.finals += 1
        start = words[0].t0 if words else utt.start / SAMPLE_RATE
        return UtteranceFinal(
            utterance=utt.index,
            start=start,
            end=max(words[-1].t1, start) if words else start,
            words=words,
            text=_join([w.w for w in words]),
            eou_reason=reason,
            had_partials=utt.emitted,
            avg_logprob=logprob,
        )

    def _remember(self, text: str) -> None:
        if text:
            self._history.extend(text.split())
            del self._history[: -self.config.prompt_words]
