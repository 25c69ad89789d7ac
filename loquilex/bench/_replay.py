"""``loquilex bench replay``: the streaming engine on the audio clock, one step at a time.

Every 20 ms chunk is fed and processed before the next, so the result does not depend on how
fast the machine is or what else it runs: the same code on the same audio gives the same
finals. A sentence's latency here is how much audio past its end the engine needed before
a final reached it: the engine's own doing. ``bench stream`` adds the compute time on top,
at real time. Settings are tuned on this, and checked with that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from loquilex.asr import AsrEngine, StreamingASR, UtteranceFinal
from loquilex.audio import SAMPLE_RATE
from loquilex.bench._speech import SpeechClip
from loquilex.bench._stream import in_silence
from loquilex.bench._wer import WerCounts, wer_counts
from loquilex.config import StreamConfig

__all__ = ["ReplayResult", "SentenceLatency", "replay"]

_STEP = 320  # 20 ms, a browser's or a microphone's frame


@dataclass(frozen=True, slots=True)
class SentenceLatency:
    """When the first final reaching a sentence's end came out (None: never)."""

    text: str
    end: float
    final_at: float | None

    @property
    def latency(self) -> float | None:
        return None if self.final_at is None else self.final_at - self.end


@dataclass
class ReplayResult:
    """Finals with the audio position at which each came out, and what they add up to."""

    finals: list[tuple[float, UtteranceFinal]]
    wer: WerCounts
    sentences: list[SentenceLatency] = field(default_factory=list)
    words_in_silence: list[str] = field(default_factory=list)
    cpu_s: float = 0.0
    audio_s: float = 0.0
    decodes: int = 0
    sentence_checks: int = 0
    skips_kept: int = 0  # decodes that skipped agreed words (decoded again with them forced)

    @property
    def text(self) -> str:
        return " ".join(f.text for _, f in self.finals if f.text)

    @property
    def latencies(self) -> list[float]:
        return [s.latency for s in self.sentences if s.latency is not None]

    def late(self, over_s: float) -> list[SentenceLatency]:
        """Sentences finalized more than ``over_s`` after their end, or never."""
        return [s for s in self.sentences if s.latency is None or s.latency > over_s]

    def summary(self) -> dict[str, Any]:
        lat = self.latencies

        def pct(q: float) -> float | None:
            return round(float(np.quantile(lat, q)), 3) if lat else None

        w = self.wer
        return {
            "errors": w.errors,
            "reference_words": w.reference_words,
            "wer": round(w.wer, 4),
            "substitutions": w.substitutions,
            "deletions": w.deletions,
            "insertions": w.insertions,
            "finals": sum(1 for _, f in self.finals if f.text),
            "sentences": len(self.sentences),
            "sentences_not_finalized": sum(1 for s in self.sentences if s.final_at is None),
            "final_latency_p50_s": pct(0.5),
            "final_latency_p95_s": pct(0.95),
            "final_latency_max_s": pct(1.0),
            "words_in_silence": len(self.words_in_silence),
            "decodes": self.decodes,
            "sentence_checks": self.sentence_checks,
            "skips_kept": self.skips_kept,
            "cpu_s": round(self.cpu_s, 2),
            "audio_s": round(self.audio_s, 2),
        }


def replay(
    engine: AsrEngine,
    audio: npt.NDArray[np.float32],
    reference: str,
    *,
    config: StreamConfig | None = None,
    clips: list[SpeechClip] | None = None,
) -> ReplayResult:
    """Run ``audio`` through a new :class:`StreamingASR` 20 ms at a time and measure its
    finals against ``reference`` and, with ``clips``, every sentence's true end."""
    asr = StreamingASR(engine, config)
    finals: list[tuple[float, UtteranceFinal]] = []
    started = time.process_time()
    for i in range(0, len(audio), _STEP):
        asr.feed(audio[i : i + _STEP])
        at = min(i + _STEP, len(audio)) / SAMPLE_RATE
        finals += [(at, e) for e in asr.process() if isinstance(e, UtteranceFinal)]
    asr.end()
    at = len(audio) / SAMPLE_RATE
    finals += [(at, e) for e in asr.process() if isinstance(e, UtteranceFinal)]
    result = ReplayResult(
        finals=finals,
        wer=wer_counts(reference, " ".join(f.text for _, f in finals if f.text)),
        cpu_s=time.process_time() - started,
        audio_s=len(audio) / SAMPLE_RATE,
        decodes=asr.stats.partial_decodes + asr.stats.final_decodes,
        sentence_checks=asr.stats.sentence_checks,
        skips_kept=asr.stats.skips_kept,
    )
    for clip in clips or []:
        hit = next((t for t, f in finals if f.text and f.end >= clip.end - 0.5), None)
        result.sentences.append(SentenceLatency(clip.text, clip.end, hit))
    if clips:
        result.words_in_silence = [
            f"{w.w} ({w.t0:.2f}-{w.t1:.2f} s)"
            for _, f in finals
            for w in f.words
            if in_silence(w.t0, w.t1, clips)
        ]
    return result
