"""The server's Prometheus metrics (``GET /metrics``), through ``prometheus-client``.

One :class:`Telemetry` per server, in a registry of its own (two servers in one process
never share counters). Sessions, their pipelines and the WebSocket connections record into
it as things happen; gauges that describe the present (sessions, queues, the scheduler) are
read from the server when Prometheus scrapes. docs/metrics.md lists every series.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from loquilex.protocol import Envelope

__all__ = ["CONTENT_TYPE", "Gauges", "Telemetry"]

#: What ``/metrics`` answers with: Prometheus text exposition format 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Seconds. Decodes of tiny.en on a laptop core take 0.05-1 s; larger models on a CPU, more.
_DECODE_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)
#: Seconds from when a final's last audio arrived to the FINALIZED (the product's budget).
_LATENCY_BUCKETS = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 12.0, 20.0)
_MT_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2, 2.0, 3.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class Gauges:
    """The present, as the server sees it when scraped."""

    sessions: dict[str, int] = field(default_factory=dict)  # kind → running sessions
    queue_depth_max: int = 0  # the fullest client queue, in events
    subscribers: int = 0
    scheduler_backlog: int = 0  # decode jobs waiting for a worker
    connections: int = 0  # open WebSocket connections


class _PresentCollector(Collector):
    def __init__(self, read: Callable[[], Gauges]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        now = self._read()
        sessions = GaugeMetricFamily(
            "loquilex_sessions_active", "Sessions running now, by kind.", labels=["kind"]
        )
        for kind in ("streaming", "subprocess"):
            sessions.add_metric([kind], now.sessions.get(kind, 0))
        yield sessions
        yield GaugeMetricFamily(
            "loquilex_client_queue_depth_max",
            "Events waiting in the fullest client queue.",
            value=now.queue_depth_max,
        )
        yield GaugeMetricFamily(
            "loquilex_subscribers", "Clients receiving session events.", value=now.subscribers
        )
        yield GaugeMetricFamily(
            "loquilex_scheduler_backlog",
            "Decode jobs waiting for a worker.",
            value=now.scheduler_backlog,
        )
        yield GaugeMetricFamily(
            "loquilex_websocket_connections",
            "Open WebSocket connections.",
            value=now.connections,
        )


class Telemetry:
    """Counters and histograms the server's parts record into. Thread-safe (decodes are
    observed on the scheduler's threads, translations on their worker)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sessions_started = Counter(
            "loquilex_sessions_started", "Sessions started, by kind.", ["kind"], registry=r
        )
        self.audio = Counter(
            "loquilex_audio_seconds", "Seconds of audio taken in by sessions.", registry=r
        )
        self.decode = Histogram(
            "loquilex_decode_seconds",
            "Time of one Whisper decode, by kind (partial or final).",
            ["kind"],
            buckets=_DECODE_BUCKETS,
            registry=r,
        )
        self.final_latency = Histogram(
            "loquilex_final_latency_seconds",
            "From the arrival of the audio a final ends with to its FINALIZED.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "loquilex_events",
            "Events published to a session's stream, by type.",
            ["type"],
            registry=r,
        )
        self.dropped = Counter(
            "loquilex_events_dropped",
            "Events a slow client lost to backpressure, by type.",
            ["type"],
            registry=r,
        )
        self.errors = Counter(
            "loquilex_errors",
            "ERROR events, broadcast or to one client, by code.",
            ["code"],
            registry=r,
        )
        self.mt_latency = Histogram(
            "loquilex_mt_latency_seconds",
            "Time to translate, by final (true) or partial (false) translation.",
            ["final"],
            buckets=_MT_BUCKETS,
            registry=r,
        )
        ProcessCollector(registry=r)  # process_resident_memory_bytes, process_cpu_seconds…
        self._present: _PresentCollector | None = None
        for kind in ("PARTIAL", "FINALIZED", "TRANSLATION"):  # present at 0 from the start
            self.events.labels(kind)
            self.dropped.labels(kind)

    def watch(self, read: Callable[[], Gauges]) -> None:
        """Report ``read()`` at every scrape, in place of any earlier reader."""
        if self._present is not None:
            self.registry.unregister(self._present)
        self._present = _PresentCollector(read)
        self.registry.register(self._present)

    def event(self, envelope: Envelope) -> None:
        """A broadcast event: count it, and its latencies."""
        self.events.labels(envelope.type).inc()
        payload = envelope.payload
        if envelope.type == "ERROR":
            self.errors.labels(payload["code"]).inc()
        elif envelope.type == "TRANSLATION" and payload.get("latency_ms") is not None:
            final = "true" if payload["final"] else "false"
            self.mt_latency.labels(final).observe(payload["latency_ms"] / 1000)

    def private_error(self, code: str) -> None:
        """An ERROR sent to one client only (its bad message, its overflow, its gap)."""
        self.errors.labels(code).inc()

    def decoded(self, seconds: float, final: bool) -> None:
        self.decode.labels("final" if final else "partial").observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
