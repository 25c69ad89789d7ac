"""``loquilex bench soak``: a long stream (a recording in a loop), replayed as fast as the
engine goes, sampling memory as it runs: does anything grow with session length?"""

from __future__ import annotations

import resource
import time
from typing import Any

import numpy as np
import numpy.typing as npt
import psutil

from loquilex.asr import StreamConfig, StreamingASR, UtteranceFinal, WhisperEngine
from loquilex.audio import SAMPLE_RATE

__all__ = ["rss_summary", "run_soak"]

_CHUNK = SAMPLE_RATE // 50  # 20 ms, as a live source delivers it


def rss_summary(rss: list[float], warmup: str) -> dict[str, float]:
    """First, settled, last and peak RSS of a run sampled at regular intervals; "settled" is
    the third sample, after the allocator's warm-up (``warmup`` names that point in keys)."""
    settled = rss[min(2, len(rss) - 1) :]
    return {
        "rss_mb_first": rss[0],
        f"rss_mb_after_{warmup}": settled[0],
        "rss_mb_last": rss[-1],
        "rss_mb_max": max(rss),
        f"rss_growth_after_{warmup}_mb": round(rss[-1] - settled[0], 1),
        f"rss_spread_after_{warmup}_mb": round(max(settled) - min(settled), 1),
    }


def run_soak(
    model: Any,
    audio: npt.NDArray[np.float32],
    *,
    minutes: float,
    config: StreamConfig | None = None,
    language: str = "en",
) -> dict[str, Any]:
    asr = StreamingASR(WhisperEngine(model, language), config or StreamConfig())
    process = psutil.Process()
    target = minutes * 60 * SAMPLE_RATE
    fed = 0
    finals = 0
    samples: list[dict[str, float]] = []
    next_sample = 0
    cpu0 = time.process_time()
    wall0 = time.monotonic()
    while fed < target:
        for offset in range(0, len(audio), _CHUNK):
            asr.feed(audio[offset : offset + _CHUNK])
            finals += sum(isinstance(e, UtteranceFinal) for e in asr.process())
            fed += len(audio[offset : offset + _CHUNK])
            if fed >= next_sample:
                samples.append(
                    {
                        "audio_min": round(fed / SAMPLE_RATE / 60, 2),
                        "rss_mb": round(process.memory_info().rss / 2**20, 1),
                        "buffered_s": round(asr.buffered_s, 2),
                    }
                )
                next_sample += 60 * SAMPLE_RATE
            if fed >= target:
                break
    asr.end()
    finals += sum(isinstance(e, UtteranceFinal) for e in asr.process())
    return {
        "audio_minutes": round(fed / SAMPLE_RATE / 60, 2),
        "finals": finals,
        **rss_summary([s["rss_mb"] for s in samples], "2_min"),
        "max_decode_window_s": round(asr.stats.max_window_s, 2),
        "max_buffered_s": max(s["buffered_s"] for s in samples),
        "cpu_s_per_audio_s": round((time.process_time() - cpu0) / (fed / SAMPLE_RATE), 4),
        "wall_s": round(time.monotonic() - wall0, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "samples": samples,
    }
