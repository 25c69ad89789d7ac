"""SessionMeter: one stream's performance budgets as it runs, for METRICS events and
``/metrics``: final latency on the wall clock, partial cadence and the real-time factor."""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from loquilex._stats import percentile
from loquilex.protocol import Envelope, MetricsPayload
from loquilex.telemetry import Telemetry

__all__ = ["SessionMeter"]

#: Finals and partials the percentiles are taken over (the most recent ones).
WINDOW = 200
#: (stream time, arrival) marks kept: two minutes of 20 ms frames, far more than a final's
#: audio can be behind the newest frame (the backlog limit plus one utterance).
_MARKS = 6000


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class SessionMeter:
    """Fed by the caption pipeline: when audio arrived (on the stream clock) and every
    event it produced. A final's latency is the time from the arrival of the audio it ends
    with to its FINALIZED: what a viewer waits after the words were spoken."""

    def __init__(
        self, telemetry: Telemetry | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.telemetry = telemetry
        self._clock = clock
        self._fed_s = 0.0
        self._marks: deque[tuple[float, float]] = deque(maxlen=_MARKS)
        self._latencies: deque[float] = deque(maxlen=WINDOW)
        self._partials: deque[float] = deque(maxlen=WINDOW)
        self.finals = 0
        self.partials = 0

    def fed(self, seconds: float) -> None:
        """``seconds`` more audio reached the recognizer now."""
        self._fed_s += seconds
        self._marks.append((self._fed_s, self._clock()))
        if self.telemetry is not None:
            self.telemetry.audio.inc(seconds)

    def observe(self, envelope: Envelope) -> None:
        if envelope.type == "PARTIAL":
            self.partials += 1
            self._partials.append(self._clock())
        elif envelope.type == "FINALIZED":
            self.finals += 1
            latency = self._latency(envelope.payload["segment"]["end"])
            if latency is not None:
                self._latencies.append(latency)
                if self.telemetry is not None:
                    self.telemetry.final_latency.observe(latency)

    def _latency(self, end_s: float) -> float | None:
        """Now, less the arrival of the first audio that reached ``end_s``. Finals come in
        stream order, so marks before the one that reached it are needed no more."""
        marks = self._marks
        while len(marks) > 1 and marks[1][0] < end_s:
            marks.popleft()
        for fed_s, arrived in itertools.islice(marks, 2):
            if fed_s >= end_s - 1e-6:
                return max(0.0, self._clock() - arrived)
        if marks and marks[-1][0] >= end_s - 0.02:  # a word's end rounded past the audio
            return max(0.0, self._clock() - marks[-1][1])
        return None  # a final past the audio heard: no honest number

    def payload(self, stats: dict[str, Any]) -> MetricsPayload:
        """The METRICS payload now; ``stats`` are the pipeline's counters."""
        latencies = list(self._latencies)
        gaps = [b - a for a, b in zip(self._partials, list(self._partials)[1:], strict=False)]
        audio_s = float(stats.get("audio_s", 0.0))
        decode_s = float(stats.get("decode_s", 0.0))
        return MetricsPayload(
            final_latency_p50_s=_round(percentile(latencies, 0.5)),
            final_latency_p95_s=_round(percentile(latencies, 0.95)),
            final_latency_max_s=_round(max(latencies, default=None)),
            partial_interval_p50_s=_round(percentile(gaps, 0.5)),
            partial_interval_p95_s=_round(percentile(gaps, 0.95)),
            real_time_factor=_round(decode_s / audio_s) if audio_s > 0 else None,
            audio_s=round(audio_s, 3),
            decode_s=round(decode_s, 3),
            finals=self.finals,
            partials=self.partials,
            window=len(latencies),
        )
