"""A caption stream's live translation: PARTIAL/FINALIZED in, TRANSLATION events out.

Used by in-process sessions and by ``loquilex live``; the caller says how an event is
published (the session's log and transcript, or the terminal).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from loquilex.mt import Translator
from loquilex.mt._live import CadenceSettings, LiveTranslation, TranslationResult
from loquilex.protocol import Envelope, ErrorPayload, EventType, TranslationPayload

__all__ = ["Translations"]

logger = logging.getLogger(__name__)

#: Translations remembered for SNAPSHOT (the aggregator keeps this many recent finals too).
_REMEMBERED = 64
#: The same failure is reported at most this often.
_ERROR_EVERY_S = 10.0

Publish = Callable[[EventType, BaseModel, str | None], Envelope]


class Translations:
    """Feeds captions to a :class:`LiveTranslation` and publishes what comes back.

    ``publish(type, payload, segment_id)`` emits one event (on the event loop).
    """

    def __init__(
        self,
        translator: Translator,
        target_lang: str,
        publish: Publish | None = None,
        *,
        cadence: CadenceSettings | None = None,
        name: str = "",
    ) -> None:
        self.translator = translator
        self.target_lang = target_lang
        self._publish = publish
        self._cadence = cadence
        self._name = name
        self._live: LiveTranslation | None = None
        self._recent: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._last_error: tuple[str, float] | None = None
        self.finals = 0
        self.errors = 0
        self.latencies_ms: list[int] = []

    def bind(self, publish: Publish) -> None:
        """Say how events are published (before :meth:`start`)."""
        self._publish = publish

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._publish is None:
            raise RuntimeError("Translations.bind() was not called")
        self._live = LiveTranslation(
            self.translator,
            self.target_lang,
            loop,
            self._deliver,
            self._fail,
            cadence=self._cadence,
            name=self._name,
        )

    def observe(self, envelope: Envelope) -> None:
        """Every caption event passes here, in order, on the event loop."""
        live = self._live
        if live is None or envelope.segment_id is None:
            return
        if envelope.type == "PARTIAL":
            live.on_partial(envelope.segment_id, envelope.payload["segment"]["text"])
        elif envelope.type == "FINALIZED":
            live.on_final(envelope.segment_id, envelope.payload["segment"]["text"])

    def _deliver(self, result: TranslationResult) -> None:
        payload = TranslationPayload(
            source_segment_id=result.segment_id,
            lang=self.target_lang,
            text=result.text,
            final=result.final,
            source_text=result.source_text,
            model=self.translator.name,
            latency_ms=result.latency_ms,
        )
        if result.final:
            self.finals += 1
            self.latencies_ms.append(result.latency_ms)
            del self.latencies_ms[:-1000]
        self._recent[result.segment_id] = payload.model_dump(mode="json")
        self._recent.move_to_end(result.segment_id)
        while len(self._recent) > _REMEMBERED:
            self._recent.popitem(last=False)
        assert self._publish is not None
        self._publish("TRANSLATION", payload, result.segment_id)

    def _fail(self, message: str) -> None:
        self.errors += 1
        now = time.monotonic()
        if self._last_error and self._last_error[0] == message:
            if now - self._last_error[1] < _ERROR_EVERY_S:
                return
        self._last_error = (message, now)
        assert self._publish is not None
        self._publish(
            "ERROR",
            ErrorPayload(
                code="ENRICHMENT_FAILURE",
                message=f"translation failed; captions go on: {message}",
                recoverable=True,
                details={"stage": "translation", "model": self.translator.name},
            ),
            None,
        )

    def recent(self, segment_ids: list[str]) -> list[dict[str, Any]]:
        """The latest translation of each of these segments that has one (for SNAPSHOT)."""
        return [self._recent[s] for s in segment_ids if s in self._recent]

    async def drain(self, timeout_s: float = 30.0) -> None:
        if self._live is not None:
            await self._live.drain(timeout_s)

    def close(self) -> None:
        if self._live is not None:
            self._live.close()

    def stats(self) -> dict[str, Any]:
        live = self._live
        ordered = sorted(self.latencies_ms)
        return {
            "translations_final": self.finals,
            "translations_partial": live.partials_done if live else 0,
            "translation_partials_replaced": live.partials_replaced if live else 0,
            "translation_partials_stopped": live.partials_stopped if live else 0,
            "translation_errors": self.errors,
            "translation_latency_p50_ms": ordered[len(ordered) // 2] if ordered else None,
        }
