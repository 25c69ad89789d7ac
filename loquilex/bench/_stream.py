"""``loquilex bench stream``: replay a recording at real time through the live engine.

Every stream runs the same :class:`CaptionPipeline` the server and ``loquilex live`` use,
all sharing one model and one scheduler. Wall-clock times are taken when each envelope
reaches the sink, so latencies include decoding, queueing and scheduling.
"""

from __future__ import annotations

import asyncio
import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import DecodeScheduler, StreamingASR, WhisperEngine
from loquilex.audio import FileSource
from loquilex.bench._speakers import SpeakerScore, score_speakers
from loquilex.bench._speech import SpeechClip
from loquilex.bench._wer import WerCounts, wer_counts
from loquilex.config import ConversationConfig, StreamConfig
from loquilex.conversation import build_enricher
from loquilex.mt import Translator
from loquilex.protocol import Envelope, EventEmitter, EventType
from loquilex.session import CaptionPipeline, Translations

__all__ = ["StreamBenchResult", "in_silence", "offline_reference", "run_stream_bench"]

#: A sentence final later than this after its end is listed by name in the results.
LATE_S = 1.5


@dataclass
class _Recorder:
    """Remembers each envelope with its wall time relative to the stream's start."""

    started: float = 0.0
    events: list[tuple[float, Envelope]] = field(default_factory=list)

    def __call__(self, envelope: Envelope) -> None:
        self.events.append((time.monotonic() - self.started, envelope))


@dataclass
class StreamBenchResult:
    """Per-stream measurements; ``summary`` aggregates them."""

    wer: list[WerCounts]
    final_latency: list[float]
    missed_sentences: int
    partial_lag: list[float]
    first_text: list[float]
    words_in_silence: int
    cpu_s: float
    audio_s: float
    streams: int
    peak_rss_mb: float
    skipped_partials: int
    skips_kept: int
    max_window_s: float
    decode_s: float
    offline: WerCounts | None
    hypotheses: list[str]
    #: Sentences final more than ``LATE_S`` after their end, or never: (text, latency).
    late: list[tuple[str, float | None]] = field(default_factory=list)
    #: FINALIZED → its final TRANSLATION, seconds (empty without translation).
    translation_latency: list[float] = field(default_factory=list)
    translation_partials: int = 0
    translator: str | None = None
    #: With diarization: per-stream attribution scores, the encoder's CPU seconds, the wall
    #: time each final waited for its speaker, SPEAKER_TURN → SEMANTIC_UPDATE gaps.
    speakers: list[SpeakerScore] = field(default_factory=list)
    diarize_cpu_s: float = 0.0
    prosody_cpu_s: float | None = None
    enrich_wait: list[float] = field(default_factory=list)
    semantic_gap: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float | None:
            if not values:
                return None
            ordered = sorted(values)
            index = min(round(q * (len(ordered) - 1)), len(ordered) - 1)
            return round(ordered[index], 3)

        # Errors pooled over the streams, so the rates add up as for one long transcript.
        pooled = WerCounts(
            sum(c.substitutions for c in self.wer),
            sum(c.deletions for c in self.wer),
            sum(c.insertions for c in self.wer),
            sum(c.reference_words for c in self.wer),
        )
        offline = None if self.offline is None else round(self.offline.wer, 4)
        return {
            "streams": self.streams,
            "audio_s": round(self.audio_s, 2),
            **pooled.as_dict(),
            "worst_stream_wer": round(max(c.wer for c in self.wer), 4),
            "offline_beam5_wer": offline,
            "wer_vs_offline": (
                round(pooled.wer / self.offline.wer, 3)
                if self.offline is not None and self.offline.wer > 0
                else None
            ),
            "offline_deletion_rate": (
                None if self.offline is None else self.offline.as_dict()["deletion_rate"]
            ),
            "final_latency_p50_s": pct(self.final_latency, 0.5),
            "final_latency_p95_s": pct(self.final_latency, 0.95),
            "final_latency_max_s": pct(self.final_latency, 1.0),
            "sentences_not_finalized": self.missed_sentences,
            "partial_lag_p50_s": pct(self.partial_lag, 0.5),
            "partial_lag_p95_s": pct(self.partial_lag, 0.95),
            "first_text_s": pct(self.first_text, 0.5),
            "words_in_silence": self.words_in_silence,
            "cpu_s_per_audio_s": round(self.cpu_s / (self.audio_s * self.streams), 4),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "skipped_partials": self.skipped_partials,
            "skips_kept": self.skips_kept,
            "decode_wall_s_per_audio_s": round(self.decode_s / (self.audio_s * self.streams), 4),
            "max_decode_window_s": round(self.max_window_s, 2),
            "late_sentences": [
                {"text": text, "latency_s": None if late is None else round(late, 2)}
                for text, late in sorted(self.late, key=lambda x: -(x[1] or float("inf")))[:10]
            ],
            **(
                {
                    "translator": self.translator,
                    "translations_final": len(self.translation_latency),
                    "translations_partial": self.translation_partials,
                    "translation_latency_p50_s": pct(self.translation_latency, 0.5),
                    "translation_latency_p95_s": pct(self.translation_latency, 0.95),
                    "translation_latency_max_s": pct(self.translation_latency, 1.0),
                }
                if self.translator is not None
                else {}
            ),
            **(self._speaker_summary(pct) if self.speakers else {}),
        }

    def _speaker_summary(self, pct: Callable[[list[float], float], float | None]) -> dict[str, Any]:
        words = sum(s.words for s in self.speakers)
        changes = sum(s.turn_changes for s in self.speakers)
        return {
            "speaker_accuracy": round(sum(s.correct for s in self.speakers) / max(words, 1), 4),
            "worst_stream_speaker_accuracy": round(min(s.accuracy for s in self.speakers), 4),
            "true_speakers": self.speakers[0].true_speakers,
            "found_speakers_max": max(s.found_speakers for s in self.speakers),
            "turn_changes": changes,
            "turn_changes_found": sum(s.changes_found for s in self.speakers),
            "turn_change_error_p50_s": pct(
                [e for s in self.speakers for e in s.change_error_s], 0.5
            ),
            "speaker_mapping": self.speakers[0].mapping,
            "diarize_cpu_s_per_audio_s": round(
                self.diarize_cpu_s / (self.audio_s * self.streams), 4
            ),
            "prosody_cpu_s_per_audio_s": (
                None
                if self.prosody_cpu_s is None
                else round(self.prosody_cpu_s / (self.audio_s * self.streams), 4)
            ),
            "enrich_wait_p50_s": pct(self.enrich_wait, 0.5),
            "enrich_wait_p95_s": pct(self.enrich_wait, 0.95),
            "semantic_after_turn_max_s": pct(self.semantic_gap, 1.0),
        }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def in_silence(t0: float, t1: float, clips: list[SpeechClip], margin: float = 0.3) -> bool:
    """Whether a word lies more than ``margin`` away from every spoken sentence."""
    return not any(t1 > c.start - margin and t0 < c.end + margin for c in clips)


def _measure(rec: _Recorder, clips: list[SpeechClip] | None, reference: str) -> dict[str, Any]:
    finals = [(t, e) for t, e in rec.events if e.type == "FINALIZED"]
    text = " ".join(e.payload["segment"]["text"] for _, e in finals if e.payload["segment"]["text"])
    out: dict[str, Any] = {
        "wer": wer_counts(reference, text),
        "text": text,
        "latency": [],
        "late": [],
        "missed": 0,
        "lag": [],
        "first": None,
        "silence_words": 0,
    }
    for t, e in rec.events:
        if e.type == "PARTIAL" and e.ts_audio_end is not None:
            out["lag"].append(t - e.ts_audio_end)
    if clips:
        for clip in clips:
            hit = next(
                (
                    t
                    for t, e in finals
                    if e.payload["segment"]["text"] and (e.ts_audio_end or 0) >= clip.end - 0.5
                ),
                None,
            )
            if hit is None:
                out["missed"] += 1
                out["late"].append((clip.text, None))
            else:
                out["latency"].append(hit - clip.end)
                if hit - clip.end > LATE_S:
                    out["late"].append((clip.text, hit - clip.end))
        texts = [
            (t, e)
            for t, e in rec.events
            if e.type in ("PARTIAL", "FINALIZED") and e.payload["segment"]["text"]
        ]
        if texts:
            out["first"] = texts[0][0] - clips[0].start
        for _, e in finals:
            for w in e.payload["segment"]["words"]:
                if in_silence(w["t0"], w["t1"], clips):
                    out["silence_words"] += 1
    return out


def _translation_latency(rec: _Recorder) -> tuple[list[float], int]:
    finalized = {e.segment_id: t for t, e in rec.events if e.type == "FINALIZED"}
    latency, partials = [], 0
    for t, e in rec.events:
        if e.type == "TRANSLATION":
            if e.payload["final"]:
                latency.append(t - finalized[e.segment_id])
            else:
                partials += 1
    return latency, partials


async def _run(
    audio: Path,
    model: Any,
    language: str,
    config: StreamConfig,
    streams: int,
    workers: int,
    translator: Translator | None = None,
    target_lang: str = "zh",
    diarize: bool = False,
    prosody: bool = False,
) -> tuple[list[_Recorder], list[CaptionPipeline], float]:
    scheduler = DecodeScheduler(workers=workers)
    engine = WhisperEngine(model, language)
    recorders, pipelines, translations = [], [], []
    for index in range(streams):
        rec = _Recorder()
        emitter = EventEmitter()
        sink: Callable[[Envelope], None] = rec
        if translator is not None:
            live = Translations(translator, target_lang, name=f"bench-{index}")
            live.bind(_publisher(emitter, rec))
            translations.append(live)
            sink = _observed(rec, live)
        pipe = CaptionPipeline(
            FileSource(audio, realtime=True),
            StreamingASR(engine, config),
            scheduler,
            PartialFinalAggregator(emitter),
            sink,
            name=f"bench-{index}",
            enricher=build_enricher(
                emitter, ConversationConfig(diarize=diarize), diarize=diarize, prosody=prosody
            ),
        )
        recorders.append(rec)
        pipelines.append(pipe)
    cpu_start = _cpu_seconds()
    now = time.monotonic()
    for rec in recorders:
        rec.started = now
    loop = asyncio.get_running_loop()
    for live in translations:
        live.start(loop)
    try:
        await asyncio.gather(*(p.run() for p in pipelines))
        for live in translations:
            await live.drain()
    finally:
        scheduler.close()
        for live in translations:
            live.close()
    return recorders, pipelines, _cpu_seconds() - cpu_start


def _publisher(emitter: EventEmitter, rec: _Recorder) -> Any:
    def publish(type: EventType, payload: BaseModel, segment_id: str | None) -> Envelope:
        envelope = emitter.emit(type, payload, segment_id=segment_id)
        rec(envelope)
        return envelope

    return publish


def _observed(rec: _Recorder, live: Translations) -> Callable[[Envelope], None]:
    def sink(envelope: Envelope) -> None:
        rec(envelope)
        live.observe(envelope)

    return sink


def run_stream_bench(
    audio: Path,
    reference: str,
    *,
    model: Any,
    language: str = "en",
    config: StreamConfig | None = None,
    clips: list[SpeechClip] | None = None,
    streams: int = 1,
    offline: bool = True,
    workers: int = 1,
    translator: Translator | None = None,
    target_lang: str = "zh",
    diarize: bool = False,
    prosody: bool = False,
) -> StreamBenchResult:
    """Replay ``audio`` at real time on ``streams`` concurrent streams and measure (with
    live translation of every stream when ``translator`` is given, and speaker attribution
    scored against ``clips`` with ``diarize``)."""
    config = config or StreamConfig()
    recorders, pipelines, cpu_s = asyncio.run(
        _run(
            audio,
            model,
            language,
            config,
            streams,
            workers,
            translator,
            target_lang,
            diarize,
            prosody,
        )
    )
    translated = [_translation_latency(r) for r in recorders]
    measured = [_measure(r, clips, reference) for r in recorders]
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    offline_counts = None
    if offline:
        offline_counts = wer_counts(reference, offline_reference(model, audio, language))
    first = [m["first"] for m in measured if m["first"] is not None]
    return StreamBenchResult(
        wer=[m["wer"] for m in measured],
        final_latency=[x for m in measured for x in m["latency"]],
        missed_sentences=sum(m["missed"] for m in measured),
        partial_lag=[x for m in measured for x in m["lag"]],
        first_text=first,
        words_in_silence=sum(m["silence_words"] for m in measured),
        cpu_s=cpu_s,
        audio_s=FileSource(audio).duration,
        streams=streams,
        peak_rss_mb=peak_rss_mb,
        skipped_partials=sum(p.asr.stats.skipped_partials for p in pipelines),
        skips_kept=sum(p.asr.stats.skips_kept for p in pipelines),
        max_window_s=max(p.asr.stats.max_window_s for p in pipelines),
        decode_s=sum(p.asr.stats.decode_s for p in pipelines),
        offline=offline_counts,
        hypotheses=[m["text"] for m in measured],
        late=[x for m in measured for x in m["late"]],
        translation_latency=[x for lat, _ in translated for x in lat],
        translation_partials=sum(n for _, n in translated),
        translator=translator.name if translator is not None else None,
        speakers=(
            [
                score_speakers([e for _, e in r.events if e.type == "FINALIZED"], clips)
                for r in recorders
            ]
            if diarize and clips and all(c.speaker for c in clips)
            else []
        ),
        diarize_cpu_s=sum(
            p.enricher.diarizer.compute_s
            for p in pipelines
            if p.enricher is not None and p.enricher.diarizer is not None
        ),
        prosody_cpu_s=(
            sum(p.enricher.prosody_s for p in pipelines if p.enricher is not None)
            if prosody
            else None
        ),
        enrich_wait=[x for p in pipelines for x in p.enrich_wait_s],
        semantic_gap=[g for r in recorders for g in _semantic_gaps(r)],
    )


def _semantic_gaps(rec: _Recorder) -> list[float]:
    """Seconds from each SPEAKER_TURN to its SEMANTIC_UPDATE."""
    turns = {e.payload["turn"]["id"]: t for t, e in rec.events if e.type == "SPEAKER_TURN"}
    return [
        t - turns[e.payload["turn_id"]]
        for t, e in rec.events
        if e.type == "SEMANTIC_UPDATE" and e.payload["turn_id"] in turns
    ]


def offline_reference(model: Any, audio: Path, language: str = "en") -> str:
    """What faster-whisper itself makes of the file: ``WhisperModel.transcribe`` with beam 5
    and its defaults (no VAD filter), the bar streaming finals are held to."""
    segments, _ = model.transcribe(str(audio), language=language, beam_size=5)
    return " ".join(s.text.strip() for s in segments)


def machine_info() -> dict[str, Any]:
    """Where a result was measured. The CPU model and its vector extensions are part of it:
    CTranslate2 picks its int8 kernels by them, and different kernels round differently, so
    even the synchronous replay's finals can differ between machines."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": _cpu_model(),
    }


def _cpu_model() -> str | None:
    """The CPU's model name and whether it has AVX-512 and AVX2, from /proc/cpuinfo (Linux)."""
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    first = info.split("\n\n", 1)[0]  # the first processor's block
    fields = {
        key.strip(): value.strip()
        for key, value in (line.split(":", 1) for line in first.splitlines() if ":" in line)
    }
    name = fields.get("model name", "")
    flags = set(fields.get("flags", "").split())
    isa = [f for f in ("avx512f", "avx512_vnni", "avx2") if f in flags]
    return f"{name} ({', '.join(isa) or 'no AVX2'})" if name else None
