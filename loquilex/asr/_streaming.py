"""StreamingASR: live audio in, partial and final sentences out.

Per stream, in audio time (so behaviour is the same at real time and in fast replay):

* The :class:`Endpointer` scores each 32 ms window with the stream's VAD and says when an
  utterance opens (with pre-roll), pauses, ends, is too long, or was too little speech.
  A decode of audio that a voice model heard for less than half of its speech windows
  (the level gate alone opened: a whisper, or a held chord) must be surer of speech:
  ``unvoiced_no_speech_threshold`` and ``unvoiced_logprob_threshold``.
* While speech continues, the unstable part of the utterance is re-decoded every
  ``decode_interval_s`` of new audio (the first time ``first_decode_s`` after speech
  starts), together with ``left_context_s`` of the stable part before it, whose words are
  forced as the decoder prefix; earlier text is the prompt. A word becomes stable when two
  consecutive decodes agree on it and it ends at least ``commit_lag_s`` before the decoded
  audio does (LocalAgreement with right context). Stable words never change. A decode
  that seems to skip words the two before it agreed on (Whisper drops a quiet phrase when
  a louder voice follows it in the window) is run again with them stable and forced; that
  second decode is kept unless it holds fewer words (then the first was a revision).
* Sentence finals without a pause: when a partial decode shows a sentence end followed by
  the next sentence's first word, with ``sentence_context_s`` of audio after it, the same
  window is decoded again with the final beam. If that decode agrees that a sentence ends
  there, the sentence is FINALIZED at once and the words after it go on as the next
  utterance. A candidate sentence end still short of right context brings the next decode
  forward to the moment it has enough. Whisper writes commas where run-together
  sentences meet, so every comma with ``clause_context_s`` after it is put to the final
  beam too: where it writes a full stop the final ends there, however short; where it
  keeps the comma, only a final of ``clause_min_words`` words ends there (a short clause
  it refused is not asked about again). The first break the final beam confirms near any
  break the partial showed is taken, so a refused comma never holds up a later full stop.
* End of utterance: ``punct_pause_s`` of silence runs the final decode; every complete
  sentence in it is final right there; an unfinished rest becomes final after
  ``eou_silence_s``, reusing that decode. An utterance reaching ``max_segment_s`` is cut
  after its last stable word (or, with none, before its last decoded word), never inside a
  word. ``request_finalize`` and ``end`` force it.
* Finalized audio leaves the decode window and the buffer, so the cost of a decode stays
  bounded however long the stream runs.

Threading: ``feed``/``request_finalize``/``end`` may be called from any thread; ``process``
runs the VAD and the decodes and must be called from one thread at a time (the scheduler's
worker, or the caller in synchronous use).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from loquilex.asr._buffer import AudioBuffer
from loquilex.asr._endpoint import Endpointer, EndpointerConfig, EndpointSignal
from loquilex.asr._engine import AsrEngine
from loquilex.asr._stabilize import (
    agree,
    clean_tail,
    context_needed,
    drop_overlap,
    ends_final,
    ends_sentence,
    is_hallucination,
    norm_word,
    says_again,
    sentence_breaks,
    skipped,
    split_sentences,
)
from loquilex.asr._vad import WINDOW, SpeechScorer, make_vad
from loquilex.audio import SAMPLE_RATE
from loquilex.config import EouReason, StreamConfig
from loquilex.types import Word

__all__ = [
    "AsrEvent",
    "AsrStats",
    "StreamingASR",
    "UtteranceFinal",
    "UtterancePartial",
]

logger = logging.getLogger(__name__)


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
    sentence_checks: int = 0
    skipped_partials: int = 0
    decode_s: float = 0.0
    max_window_s: float = 0.0
    dropped_utterances: int = 0
    rejected_decodes: int = 0
    skips_kept: int = 0  # decodes that skipped agreed words, decoded again with them forced
    finals: int = 0


@dataclass(slots=True)
class _Utterance:
    index: int
    start: int  # absolute sample
    next_decode: int = 0  # absolute sample at which the next partial decode is due
    window: int = 0  # absolute sample where the next decode starts (after stable words)
    committed: list[Word] = field(default_factory=list)
    context: list[Word] = field(default_factory=list)  # finalized words just before ``start``
    unconfirmed: list[Word] = field(default_factory=list)
    agreed: int = 0  # leading unconfirmed words two decodes agreed on, held by the lag
    candidate: list[Word] | None = None  # final decode taken at the current pause
    candidate_logprob: float | None = None
    rejected: list[float] = field(default_factory=list)  # ends of breaks the final beam
    checked_at: int = 0  # did not confirm, and the absolute sample at which it said so
    short_refused: list[float] = field(default_factory=list)  # short clauses it did not end
    emitted: bool = False
    last_partial: tuple[str, str] | None = None


#: In audio no voice model heard, a decode that is one word this many times is a loop.
_LOOP_WORDS = 3


def _join(words: list[Word] | tuple[Word, ...]) -> str:
    return " ".join(w.w for w in words if w.w)


def _with_extension(words: list[Word], extension: str) -> list[Word]:
    """``words`` with punctuation a decode appended to the last one ("library" → "library.")."""
    if not extension or not words:
        return list(words)
    last = words[-1]
    return [*words[:-1], Word(last.w + extension, last.t0, last.t1, last.conf)]


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
        self.config = cfg = config or StreamConfig()
        self._vad = vad if vad is not None else make_vad(cfg.vad)
        self._endpointer = Endpointer(
            EndpointerConfig(
                threshold=cfg.vad_threshold,
                neg_threshold=cfg.effective_neg_threshold,
                pause_s=cfg.punct_pause_s,
                end_s=cfg.eou_silence_s,
                min_speech_s=cfg.min_speech_s,
                max_s=cfg.max_segment_s,
                preroll_s=cfg.preroll_s,
            )
        )
        self._lock = threading.Lock()
        self._pending: list[npt.NDArray[np.float32]] = []
        self._pending_samples = 0
        self._finalize_requested = False
        self._ended = False
        #: Called with (seconds, final) after every decode, on the thread that decoded.
        self.on_decode: Callable[[float, bool], None] | None = None
        self._closed = False
        self._buffer = AudioBuffer()
        self._vad_pos = 0  # absolute sample up to which VAD has run
        # Speech windows still buffered: (end sample, whether a voice model heard it too).
        self._speech_windows: deque[tuple[int, bool]] = deque()
        self._utt: _Utterance | None = None
        self._next_index = 0
        self._history: list[str] = []
        self._last_final: tuple[Word, ...] = ()  # the words of the newest final
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
            if self._endpointer.in_speech:
                self._open(self._vad_pos, WINDOW)
        if ended:
            events += self._finish(self._buffer.end, "end_of_stream")
            self._closed = True
            return events
        utt = self._utt
        ep = self._endpointer
        if (
            utt is not None
            and not ep.pausing
            and self._vad_pos >= utt.next_decode
            and ep.speech_s >= self.config.min_speech_s
        ):
            if backlog > self.config.max_backlog_s:
                self.stats.skipped_partials += 1
                utt.next_decode = self._vad_pos + int(self.config.decode_interval_s * SAMPLE_RATE)
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
        voice = self._vad.voice
        heard = self.config.effective_neg_threshold
        events: list[AsrEvent] = []
        for i, prob in enumerate(probs):
            self._vad_pos += WINDOW
            signal = self._endpointer.step(float(prob), self._vad_pos, self._buffer.start)
            if self._endpointer.in_speech:
                self._speech_windows.append((self._vad_pos, bool(voice[i] >= heard)))
            if signal is not None:
                events += self._on_signal(signal)
            elif self._utt is None:
                self._buffer.trim(self._vad_pos - int(self.config.preroll_s * SAMPLE_RATE))
        while self._speech_windows and self._speech_windows[0][0] <= self._buffer.start:
            self._speech_windows.popleft()
        return events

    def _voiced(self, start: int, end: int) -> bool:
        """Whether a voice model heard at least half of the speech between two samples
        (not so where only the level gate opened: a whisper, a held chord, a hum)."""
        inside = [voiced for at, voiced in self._speech_windows if start < at <= end + WINDOW]
        return bool(inside) and 2 * sum(inside) >= len(inside)

    def _on_signal(self, signal: EndpointSignal) -> list[AsrEvent]:
        end = self._vad_pos
        if signal is EndpointSignal.OPEN:
            self._new_utterance(self._endpointer.start)
            return []
        utt = self._utt
        if utt is None:
            return []
        if signal is EndpointSignal.DROP:
            self._drop()
            return []
        if signal is EndpointSignal.LONG:
            return self._cut(utt, end)
        if signal is EndpointSignal.PAUSE:
            # Speech may resume: the decode is kept and reused at END if it does not.
            utt.candidate, utt.candidate_logprob = self._final_words(utt, end)
            return self._finals_from(utt, utt.candidate, "punctuation", end, at_pause=True)
        if utt.candidate is None:
            utt.candidate, utt.candidate_logprob = self._final_words(utt, end)
        return self._finals_from(utt, utt.candidate, "silence", end, at_pause=False)

    # -- utterance lifecycle -------------------------------------------------------------------
    def _new_utterance(
        self,
        start: int,
        unconfirmed: list[Word] | None = None,
        context: list[Word] | None = None,
    ) -> _Utterance:
        cfg = self.config
        speech_start = start + int(cfg.preroll_s * SAMPLE_RATE)
        first = max(speech_start + int(cfg.first_decode_s * SAMPLE_RATE), self._vad_pos)
        utt = _Utterance(
            index=self._next_index,
            start=start,
            window=start,
            next_decode=first if unconfirmed is None else self._vad_pos,
            unconfirmed=unconfirmed or [],
            context=context or [],
        )
        self._next_index += 1
        self._utt = utt
        return utt

    def _open(self, start: int, speech_samples: int) -> _Utterance:
        """An utterance that carries on from ``start`` after a forced final in mid-speech."""
        self._endpointer.carry(start, speech_samples)
        return self._new_utterance(start)

    def _drop(self) -> None:
        self.stats.dropped_utterances += 1
        logger.debug("dropping utterance with %.2f s of speech", self._endpointer.speech_s)
        self._utt = None
        self._endpointer.close()
        self._buffer.trim(self._vad_pos - int(self.config.preroll_s * SAMPLE_RATE))

    def _finish(self, end: int, reason: EouReason) -> list[AsrEvent]:
        """Force the open utterance out: everything decoded becomes final."""
        utt = self._utt
        if utt is None:
            return []
        if self._endpointer.speech_s < self.config.min_speech_s and not utt.emitted:
            self._drop()
            return []
        if utt.candidate is None or not self._endpointer.pausing:
            utt.candidate, utt.candidate_logprob = self._final_words(utt, end)
        return self._finals_from(utt, utt.candidate, reason, end, at_pause=False)

    def _finals_from(
        self, utt: _Utterance, words: list[Word], reason: EouReason, end: int, *, at_pause: bool
    ) -> list[AsrEvent]:
        """One final per complete sentence in ``words``. At a pause an unfinished rest stays
        open as the next utterance (speech may resume); otherwise the rest is final too."""
        pieces = split_sentences(words)
        unfinished = bool(pieces) and not ends_sentence(pieces[-1][-1].w)
        if at_pause and (unfinished or not pieces):
            if len(pieces) < 2:
                return []
            done = len(words) - len(pieces[-1])
            events = self._final_and_carry(utt, words, done - 1, "punctuation", keep_silence=True)
            if self._utt is not None:
                self._utt.candidate = pieces[-1]
                self._utt.candidate_logprob = utt.candidate_logprob
            return events
        self._utt = None
        self._endpointer.close()
        self._buffer.trim(end - int(self.config.preroll_s * SAMPLE_RATE))
        if not words:
            if utt.emitted:
                return [self._final_event(utt, (), reason)]
            self.stats.dropped_utterances += 1
            return []
        last_reason: EouReason = "punctuation" if reason == "silence" and not unfinished else reason
        return self._sentence_finals(utt, words, last_reason)

    def _sentence_finals(
        self, utt: _Utterance, words: list[Word], reason: EouReason
    ) -> list[AsrEvent]:
        """Finals for ``words``, one per sentence; the last one's reason is ``reason`` unless
        it ends a sentence. The first uses ``utt``'s index, the others new ones."""
        events: list[AsrEvent] = []
        pieces = split_sentences(words)
        for n, piece in enumerate(pieces):
            if n:
                utt = _Utterance(index=self._next_index, start=self._sample(piece[0].t0))
                self._next_index += 1
            # Only the last piece can end for another reason than its full stop; a forced,
            # end-of-stream or max-duration final says so even when it ends a sentence.
            last = n == len(pieces) - 1
            own = reason in ("forced", "end_of_stream", "max_duration")
            why: EouReason = (
                reason if last and (own or not ends_sentence(piece[-1].w)) else "punctuation"
            )
            events.append(self._final_event(utt, tuple(piece), why))
        return events

    def _final_and_carry(
        self,
        utt: _Utterance,
        words: list[Word],
        last: int,
        reason: EouReason,
        *,
        keep_silence: bool = False,
    ) -> list[AsrEvent]:
        """Finalize ``words[: last + 1]`` (one final per sentence) and carry
        ``words[last + 1 :]`` on, unconfirmed, in a new utterance that starts between the
        two. ``keep_silence``: the endpointer stays in the pause it is in."""
        events = self._sentence_finals(utt, words[: last + 1], reason)
        rest = words[last + 1 :]
        boundary = words[last].t1
        if rest:
            boundary = max(boundary, min(rest[0].t0 - 0.2, (boundary + rest[0].t0) / 2))
        start = min(max(self._sample(boundary), self._buffer.start), self._vad_pos)
        self._endpointer.carry(start, max(self._vad_pos - start, 0), keep_silence=keep_silence)
        # The sentence just finalized stays in the window as forced left context: Whisper
        # hears the next sentence begin in context, as it would have without the cut.
        new = self._new_utterance(start, rest, words[: last + 1])
        self._buffer.trim(start - int(self.config.left_context_s * SAMPLE_RATE) - WINDOW)
        if rest:
            events += self._partial_event(new, "", self._vad_pos)
        return events

    def _cut(self, utt: _Utterance, end: int) -> list[AsrEvent]:
        """Max duration: finalize up to a word boundary, carry the rest into a new utterance."""
        if utt.committed and utt.window - utt.start >= SAMPLE_RATE:
            last = len(utt.committed) - 1
            return self._final_and_carry(utt, list(utt.committed), last, "max_duration")
        words, utt.candidate_logprob = self._final_words(utt, end)
        if len(words) >= 2:
            # The last word may run on past ``end``: it goes on in the next utterance.
            return self._final_and_carry(utt, words, len(words) - 2, "max_duration")
        return self._finals_from(utt, words, "max_duration", end, at_pause=False)

    # -- decoding ----------------------------------------------------------------------------
    @staticmethod
    def _sample(seconds: float) -> int:
        return round(seconds * SAMPLE_RATE)

    def _window(self, utt: _Utterance) -> tuple[int, list[Word]]:
        """Where the next decode starts, and the stable words it re-hears (to be forced)."""
        target = utt.window - int(self.config.left_context_s * SAMPLE_RATE)
        start, forced = utt.window, list[Word]()
        floor = self._buffer.start if utt.context else utt.start
        for word in reversed([*utt.context, *utt.committed]):
            word_start = self._sample(word.t0)
            if word_start < target or word_start < floor:
                break
            forced.insert(0, word)
            start = word_start
        return max(start, floor), forced

    def _decode(self, utt: _Utterance, end: int, *, final: bool) -> tuple[list[Word], str, float]:
        """Decode the unstable part: cleaned new words on the stream clock, punctuation that
        extends the last stable word, and the average log-probability."""
        cfg = self.config
        start, forced = self._window(utt)
        audio = self._buffer.view(start, end)
        # Everything said so far ends with the forced words: the prompt is what precedes them.
        spoken = [*self._history, *(w.w for w in utt.committed)]
        context = spoken[: len(spoken) - len(forced)][-cfg.prompt_words :]
        started = time.perf_counter()
        hyp = self.engine.decode(
            audio,
            prompt=" ".join(context),
            prefix=[w.w for w in forced],
            beam_size=cfg.final_beam if final else cfg.partial_beam,
        )
        took = time.perf_counter() - started
        self.stats.decode_s += took
        if self.on_decode is not None:
            self.on_decode(took, final)
        self.stats.max_window_s = max(self.stats.max_window_s, len(audio) / SAMPLE_RATE)
        if final:
            self.stats.final_decodes += 1
        else:
            self.stats.partial_decodes += 1
        extension = ""
        if forced and hyp.prefix_len:
            returned, last = hyp.words[hyp.prefix_len - 1].text, forced[-1].w
            if returned.startswith(last) and not norm_word(returned[len(last) :]):
                extension = returned[len(last) :]
        # Audio mostly heard by the level gate alone meets the stricter no-speech rule.
        voiced = self._voiced(start, end)
        if is_hallucination(
            hyp,
            no_speech_threshold=cfg.no_speech_threshold,
            logprob_threshold=cfg.logprob_threshold,
            unvoiced_no_speech_threshold=None if voiced else cfg.unvoiced_no_speech_threshold,
            unvoiced_logprob_threshold=None if voiced else cfg.unvoiced_logprob_threshold,
            unvoiced_loop_words=None if voiced else _LOOP_WORDS,
        ):
            self.stats.rejected_decodes += 1
            logger.debug(
                "rejected decode (no_speech %.2f, logprob %.2f, compression %.2f): %s",
                hyp.no_speech_prob,
                hyp.avg_logprob,
                hyp.compression_ratio,
                " ".join(w.text for w in hyp.words[hyp.prefix_len :]),
            )
            return [], extension, hyp.avg_logprob
        offset = start / SAMPLE_RATE
        new = clean_tail(
            hyp.words[hyp.prefix_len :], len(audio) / SAMPLE_RATE, hyp.words[: hyp.prefix_len]
        )
        words = [
            Word(w.text, round(w.t0 + offset, 3), round(w.t1 + offset, 3), round(w.prob, 4))
            for w in new
        ]
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "%s decode at %.2f s (no_speech %.2f, logprob %.2f, %s): %s",
                "final" if final else "partial",
                end / SAMPLE_RATE,
                hyp.no_speech_prob,
                hyp.avg_logprob,
                "voiced" if voiced else "unvoiced",
                " ".join(f"{w.text}@{w.t0 + offset:.2f}-{w.t1 + offset:.2f}" for w in hyp.words),
            )
        # A fresh utterance after a pause may re-hear the end of the final before it, and
        # the prompt that ends with it invites the decoder to say it again.
        before = [*utt.context, *utt.committed] or list(self._last_final)
        words = drop_overlap(before, words)
        while words and utt.committed and not norm_word(words[0].w):
            extension += words.pop(0).w  # "library" + "." heard as a word of its own
        return words, extension, hyp.avg_logprob

    def _decode_keeping(
        self, utt: _Utterance, end: int, *, final: bool
    ) -> tuple[list[Word], str, float]:
        """:meth:`_decode`, and again if the decode skipped the words the two decodes before
        it agreed on (held back only by the commit lag), with those words stable and forced.
        The second decode is kept if the agreed words and what it hears after them hold more
        words than the first decode did (a skip loses words; forced back over a revision
        word for word, a guess only holds as many), and it does not start by saying them
        again; otherwise the first decode revised early guesses ("I fly, I'm flying" → "My
        flight, then, …", "let's try the misnive" → "last item is the off-site"), or the
        forced words did not fit the audio, and it stands."""
        words, extension, logprob = self._decode(utt, end, final=final)
        held = utt.unconfirmed[: utt.agreed]
        if not skipped(held, words):
            return words, extension, logprob
        before = (utt.committed, utt.window, utt.unconfirmed, utt.agreed)
        utt.committed = [*utt.committed, *held]
        utt.window = max(utt.window, self._sample(held[-1].t1))
        utt.unconfirmed, utt.agreed = utt.unconfirmed[len(held) :], 0
        # An exact repeat of the forced words is dropped as the decode's overlap; a decode
        # that still starts by saying some of them again did not take them for their audio.
        after, after_extension, after_logprob = self._decode(utt, end, final=final)
        keep = len(held) + len(after) > len(words) and not says_again(held, after)
        logger.debug(
            "decode at %.2f s skipped agreed [%s] (it said: %s); with them forced: %s (%s)",
            end / SAMPLE_RATE,
            _join(held),
            _join(words),
            _join(after),
            "kept" if keep else "not kept",
        )
        if keep:
            self.stats.skips_kept += 1
            return after, after_extension, after_logprob
        utt.committed, utt.window, utt.unconfirmed, utt.agreed = before
        return words, extension, logprob

    def _partial(self, utt: _Utterance) -> list[AsrEvent]:
        cfg = self.config
        end = self._vad_pos
        words, extension, _ = self._decode_keeping(utt, end, final=False)
        utt.next_decode = end + int(cfg.decode_interval_s * SAMPLE_RATE)
        end_s = end / SAMPLE_RATE
        agreed = confirmed = agree(utt.unconfirmed, words, keep_last=True)
        while confirmed and words[confirmed - 1].t1 > end_s - cfg.commit_lag_s:
            confirmed -= 1
        utt.agreed = agreed - confirmed
        if confirmed:
            utt.committed = _with_extension(utt.committed, extension)
            extension = ""
            utt.committed += words[:confirmed]
            utt.window = max(utt.window, self._sample(words[confirmed - 1].t1))
        utt.unconfirmed = words[confirmed:]
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug(
                "partial at %.2f s: [%s] %s",
                end_s,
                _join(utt.committed),
                " ".join(f"{w.w}@{w.t1:.2f}" for w in utt.unconfirmed),
            )
        events = self._sentence_final(utt, extension, end)
        if events is not None:
            return events
        return self._partial_event(utt, extension, end)

    def _sentence_final(self, utt: _Utterance, extension: str, end: int) -> list[AsrEvent] | None:
        """Finalize a sentence that ended inside the utterance (see the module docstring),
        or schedule the decode that can; None when there is nothing to finalize yet."""
        cfg = self.config
        end_s = end / SAMPLE_RATE
        shown = [*_with_extension(utt.committed, extension), *utt.unconfirmed]
        # Every comma is worth a look by the final beam, which decides: there, a full stop
        # ends a final at any length, a comma only a final of ``clause_min_words`` words.
        look = min(cfg.clause_min_words, 1)
        candidates = sentence_breaks(
            shown,
            first=0,
            audio_end=end_s,
            right_context_s=cfg.sentence_context_s,
            clause_min_words=look,
            clause_context_s=cfg.clause_context_s,
        )
        if candidates:
            at = candidates[0]
            stable = at < len(utt.committed) - 1 or (
                at < len(utt.committed) and ends_sentence(utt.committed[at].w)
            )
            if stable and ends_final(shown, at, cfg.clause_min_words):
                # The sentence end is stable already: nothing left to confirm.
                return self._final_and_carry(utt, shown, at, "punctuation")
        interval = int(cfg.decode_interval_s * SAMPLE_RATE)
        # The final beam just said no to these: ask again with more audio. A short clause
        # it did not end is not asked about again (more audio only joins it up further).
        recent = utt.rejected if end - utt.checked_at < interval else []
        refused = [*recent, *utt.short_refused]
        if any(all(abs(shown[i].t1 - t) >= 0.15 for t in refused) for i in candidates):
            events = self._confirm_break(utt, shown, candidates, end)
            if events is not None:
                return events
        # Decode again as soon as a sentence end (or comma) has the audio after it that
        # it needs: a full stop ``sentence_context_s``, a comma ``clause_context_s``.
        dues = [
            self._sample(
                shown[i].t1 + context_needed(shown[i], cfg.sentence_context_s, cfg.clause_context_s)
            )
            + WINDOW
            for i in range(len(shown) - 1)
            if ends_final(shown, i, look)
        ]
        dues = [due for due in dues if due > end]  # (word times can overlap)
        if dues:
            utt.next_decode = min(utt.next_decode, min(dues))
        return None

    def _confirm_break(
        self, utt: _Utterance, shown: list[Word], candidates: list[int], end: int
    ) -> list[AsrEvent] | None:
        """Decode the window again with the final beam; finalize up to the first break it
        makes (:func:`ends_final` with ``clause_min_words``) within 0.5 s of one of the
        ``candidates`` the partial showed. None, and the candidates remembered as rejected,
        if there is none: a later sentence end is not held up by an earlier comma."""
        cfg = self.config
        end_s = end / SAMPLE_RATE
        self.stats.sentence_checks += 1
        words, logprob = self._final_words(utt, end)
        breaks = sentence_breaks(
            words,
            first=max(len(utt.committed) - 1, 0),
            audio_end=end_s,
            right_context_s=cfg.sentence_context_s,
            clause_min_words=cfg.clause_min_words,
        )
        times = [shown[i].t1 for i in candidates]
        matched = [i for i in breaks if any(abs(words[i].t1 - t) <= 0.5 for t in times)]
        confirmed = matched[0] if matched else None
        logger.debug(
            "breaks after %s: final beam says %s",
            [shown[i].w for i in candidates],
            "no" if confirmed is None else f"yes, after {words[confirmed].w!r}",
        )
        if confirmed is None:
            utt.rejected, utt.checked_at = times, end
            utt.short_refused += [
                shown[i].t1 for i in candidates if not ends_final(shown, i, cfg.clause_min_words)
            ]
            return None
        utt.candidate_logprob = logprob
        return self._final_and_carry(utt, words, confirmed, "punctuation")

    def _partial_event(self, utt: _Utterance, extension: str, end: int) -> list[AsrEvent]:
        stable_text = _join(utt.committed)
        unstable_text = _join(utt.unconfirmed)
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

    def _final_words(self, utt: _Utterance, end: int) -> tuple[list[Word], float | None]:
        """Stable words plus a final (larger-beam) decode of the rest of the utterance."""
        if end <= utt.window + WINDOW:
            return list(utt.committed), None
        tail, extension, logprob = self._decode_keeping(utt, end, final=True)
        return _with_extension(utt.committed, extension) + tail, logprob

    def _final_event(
        self, utt: _Utterance, words: tuple[Word, ...], reason: EouReason
    ) -> UtteranceFinal:
        self.stats.finals += 1
        start = words[0].t0 if words else utt.start / SAMPLE_RATE
        event = UtteranceFinal(
            utterance=utt.index,
            start=start,
            end=max(words[-1].t1, start) if words else start,
            words=words,
            text=_join(words),
            eou_reason=reason,
            had_partials=utt.emitted,
            avg_logprob=utt.candidate_logprob,
        )
        if event.text:
            self._last_final = words
            self._history.extend(event.text.split())
            del self._history[: -self.config.prompt_words]
        return event
