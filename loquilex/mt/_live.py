"""Live translation of a session's captions (SPEC §7).

:class:`CadenceGate` decides which partials are worth translating: once enough new words have
arrived, at sentence punctuation, or when the speaker pauses, never more often than the
debounce allows, so the Chinese line does not flicker. Every FINALIZED is translated, exactly
once.

:class:`LiveTranslation` runs the model on its own thread, so translation never holds up the
event loop or the ASR. Its queue is bounded by construction: finals queue in order and are
never dropped; there is at most one partial job, and a newer partial replaces a stale one.
A final that arrives while a partial's draft is decoding stops that draft (the draft is
queued again unless something newer replaced it), so a final never waits for a draft.
Results come back to the event loop through :func:`~loquilex._crossing.call_in_loop`; a
partial translation that arrives after its segment became final is discarded, so a final
TRANSLATION is always the last word on its segment.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from loquilex._crossing import call_in_loop
from loquilex.config import MTSettings
from loquilex.errors import TranslationError
from loquilex.mt._translator import TranslationStopped, Translator

__all__ = ["CadenceGate", "CadenceSettings", "LiveTranslation", "TranslationResult"]

logger = logging.getLogger(__name__)

_SENTENCE_END = re.compile(r"[.?!…]['\")\]]*$")
#: Finals translated together at most (one CTranslate2 batch).
_MAX_BATCH = 8


@dataclass(frozen=True, slots=True)
class CadenceSettings:
    min_new_words: int = 3
    debounce_s: float = 0.5
    pause_s: float = 0.8

    @classmethod
    def from_settings(cls, mt: MTSettings) -> CadenceSettings:
        return cls(mt.min_new_words, mt.debounce_s, mt.pause_s)


def _words(text: str) -> list[str]:
    return text.split()


class CadenceGate:
    """Which partial texts of the live segment to translate. Pure: the clock is passed in."""

    def __init__(self, settings: CadenceSettings | None = None) -> None:
        self.settings = settings or CadenceSettings()
        self._segment: str | None = None
        self._translated = ""  # the last text of this segment sent to translation
        self._translated_at = float("-inf")
        self._seen = ""
        self._seen_at = 0.0
        self._wanted = False  # a trigger fired inside the debounce window

    def offer(self, segment_id: str, text: str, now: float) -> bool:
        """A new partial; True when it should be translated now."""
        if segment_id != self._segment:
            self._segment, self._translated, self._translated_at = segment_id, "", float("-inf")
            self._wanted = False
        self._seen, self._seen_at = text, now
        if not text.strip() or text == self._translated:
            return False
        new_words = len(_words(text)) - _common_prefix(_words(text), _words(self._translated))
        if new_words >= self.settings.min_new_words or _SENTENCE_END.search(text):
            self._wanted = True
        return self._take_if_due(now)

    def due(self, now: float) -> tuple[str, str] | None:
        """The live segment's latest text, if a trigger or a pause makes it due now."""
        if self._segment is None or not self._seen.strip() or self._seen == self._translated:
            return None
        if now - self._seen_at >= self.settings.pause_s:
            self._wanted = True
        if self._take_if_due(now):
            return self._segment, self._seen
        return None

    def _take_if_due(self, now: float) -> bool:
        if self._wanted and now - self._translated_at >= self.settings.debounce_s:
            self._translated, self._translated_at, self._wanted = self._seen, now, False
            return True
        return False

    @property
    def live_segment(self) -> str | None:
        return self._segment

    def finalized(self, segment_id: str) -> None:
        if segment_id == self._segment:
            self._segment, self._seen, self._wanted = None, "", False


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class TranslationResult:
    segment_id: str
    source_text: str
    text: str
    final: bool
    latency_ms: int


@dataclass(slots=True)
class _Job:
    segment_id: str
    text: str
    final: bool
    queued: float


class LiveTranslation:
    """One session's translator thread, cadence gate and ordering rules.

    ``deliver`` gets each :class:`TranslationResult` on the event loop; ``fail`` gets an error
    message there when the model fails (captioning goes on).
    """

    def __init__(
        self,
        translator: Translator,
        target_lang: str,
        loop: asyncio.AbstractEventLoop,
        deliver: Callable[[TranslationResult], None],
        fail: Callable[[str], None],
        *,
        cadence: CadenceSettings | None = None,
        name: str = "",
    ) -> None:
        self.translator = translator
        self.target_lang = target_lang
        self._loop = loop
        self._deliver = deliver
        self._fail = fail
        self.gate = CadenceGate(cadence)
        self._finals: deque[_Job] = deque()
        self._partial: _Job | None = None
        self._finalized: deque[str] = deque(maxlen=64)
        self._cond = threading.Condition()
        self._busy = False
        self._stop_draft = threading.Event()
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None
        self.finals_done = 0
        self.partials_done = 0
        self.partials_replaced = 0
        self.partials_stopped = 0
        self._thread = threading.Thread(target=self._work, name=f"lx-mt-{name}", daemon=True)
        self._thread.start()

    # -- on the event loop ---------------------------------------------------------------
    def on_partial(self, segment_id: str, text: str) -> None:
        if self.gate.offer(segment_id, text, time.monotonic()):
            self._submit(_Job(segment_id, text, False, time.monotonic()))
        self._arm_timer()

    def on_final(self, segment_id: str, text: str) -> None:
        self.gate.finalized(segment_id)
        with self._cond:  # read by the worker too (_requeue)
            self._finalized.append(segment_id)
        if not text.strip():
            return
        self._submit(_Job(segment_id, text, True, time.monotonic()))

    def _arm_timer(self) -> None:
        if self._timer is None and not self._closed:
            self._timer = self._loop.call_later(0.1, self._tick)

    def _tick(self) -> None:
        self._timer = None
        due = self.gate.due(time.monotonic())
        if due is not None:
            self._submit(_Job(due[0], due[1], False, time.monotonic()))
        elif self.gate.live_segment is not None:
            self._arm_timer()

    def _submit(self, job: _Job) -> None:
        with self._cond:
            if job.final:
                self._finals.append(job)
                self._stop_draft.set()  # a draft being decoded now gives way
            else:
                if self._partial is not None:
                    self.partials_replaced += 1
                self._partial = job
            self._cond.notify()

    def _arrived(self, result: TranslationResult) -> None:
        if not result.final and result.segment_id in self._finalized:
            return  # its FINALIZED came first: the final translation has the last word
        self._deliver(result)

    async def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every final queued so far is translated and delivered."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self._cond:
                idle = not self._finals and not self._busy
            if idle:
                await asyncio.sleep(0)  # let the last deliveries run on the loop
                return True
            await asyncio.sleep(0.02)
        logger.warning("translations still pending after %.0f s", timeout_s)
        return False

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with self._cond:
            self._closed = True
            self._cond.notify()

    # -- on the translation thread -------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._finals and self._partial is None and not self._closed:
                    self._cond.wait()
                if self._closed and not self._finals:
                    return
                # Finals first, together; a partial only when no final waits, on its own and
                # as a cheaper draft, so that it never holds a final up for long.
                jobs = [self._finals.popleft() for _ in range(min(_MAX_BATCH, len(self._finals)))]
                if not jobs and self._partial is not None:
                    jobs.append(self._partial)
                    self._partial = None
                    self._stop_draft.clear()
                self._busy = True
            try:
                self._run(jobs)
            finally:
                with self._cond:
                    self._busy = False

    def _requeue(self, job: _Job) -> None:
        """Put back a draft that gave way to a final, unless a newer partial replaced it or
        its segment has become final."""
        with self._cond:
            self.partials_stopped += 1
            if self._partial is None and job.segment_id not in self._finalized:
                self._partial = job
                self._cond.notify()

    def _run(self, jobs: list[_Job]) -> None:
        draft = not jobs[0].final
        try:
            texts = self.translator.translate(
                [j.text for j in jobs],
                self.target_lang,
                draft=draft,
                stop=self._stop_draft.is_set if draft else None,
            )
        except TranslationStopped:
            self._requeue(jobs[0])
            return
        except TranslationError as exc:
            logger.warning("translation failed: %s", exc)
            call_in_loop(self._loop, self._fail, str(exc))
            return
        now = time.monotonic()
        for job, text in zip(jobs, texts, strict=True):
            if job.final:
                self.finals_done += 1
            else:
                self.partials_done += 1
            result = TranslationResult(
                job.segment_id, job.text, text, job.final, int((now - job.queued) * 1000)
            )
            call_in_loop(self._loop, self._arrived, result)
