"""Percentiles, one way for every report: the nearest rank over the sorted values."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["percentile", "summary_ms"]


def percentile(values: Iterable[float], q: float) -> float | None:
    """The value at quantile ``q`` (0–1) by nearest rank; None without values."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(values: Iterable[float]) -> dict[str, float]:
    """p50, p95, p99, max and mean of durations in seconds, in milliseconds (empty: {})."""
    ordered = sorted(values)
    if not ordered:
        return {}
    ranks = {f"p{round(q * 100)}_ms": percentile(ordered, q) or 0.0 for q in (0.5, 0.95, 0.99)}
    return {k: round(v * 1000, 1) for k, v in ranks.items()} | {
        "max_ms": round(ordered[-1] * 1000, 1),
        "mean_ms": round(sum(ordered) / len(ordered) * 1000, 1),
        "count": len(ordered),
    }
