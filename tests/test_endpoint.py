"""The endpointing state machine on scripted VAD probabilities (no audio, no model)."""

from __future__ import annotations

from loquilex.asr import Endpointer, EndpointerConfig, EndpointSignal
from loquilex.asr._vad import WINDOW

SR = 16_000


def _run(ep: Endpointer, probs: list[float]) -> list[tuple[float, EndpointSignal]]:
    out = []
    for i, p in enumerate(probs):
        end = (i + 1) * WINDOW
        signal = ep.step(p, end, 0)
        if signal is not None:
            out.append((round(end / SR, 3), signal))
    return out


def _windows(seconds: float) -> int:
    return round(seconds * SR / WINDOW)


def test_open_pause_end_in_order() -> None:
    ep = Endpointer(EndpointerConfig())
    probs = [0.0] * _windows(1) + [0.9] * _windows(1) + [0.0] * _windows(1)
    signals = _run(ep, probs)
    assert [s for _, s in signals] == [
        EndpointSignal.OPEN,
        EndpointSignal.PAUSE,
        EndpointSignal.END,
    ]
    opened, paused, ended = (t for t, _ in signals)
    assert abs(opened - 1.03) < 0.05
    assert abs(paused - opened - 1.0 - 0.25) < 0.07
    assert abs(ended - opened - 1.0 - 0.5) < 0.07
    # The utterance starts with pre-roll before the first speech window.
    assert abs(ep.start / SR - (1.0 - 0.3)) < 0.05


def test_hysteresis_keeps_speech_through_a_dip() -> None:
    ep = Endpointer(EndpointerConfig(threshold=0.5, neg_threshold=0.3))
    probs = [0.9] * _windows(0.5) + [0.4] * _windows(1.0) + [0.9] * _windows(0.5)
    assert [s for _, s in _run(ep, probs)] == [EndpointSignal.OPEN]


def test_short_blip_is_dropped_not_ended() -> None:
    ep = Endpointer(EndpointerConfig(min_speech_s=0.2))
    probs = [0.9] * 3 + [0.0] * _windows(1)
    assert [s for _, s in _run(ep, probs)] == [EndpointSignal.OPEN, EndpointSignal.DROP]


def test_long_utterance_signals_long() -> None:
    ep = Endpointer(EndpointerConfig(max_s=3.0))
    signals = _run(ep, [0.9] * _windows(3.5))
    assert signals[0][1] is EndpointSignal.OPEN
    assert signals[1][1] is EndpointSignal.LONG
    assert abs(signals[1][0] - 3.0) < 0.05  # the utterance started at 0 (no room for pre-roll)


def test_carry_keeps_the_pause_in_progress() -> None:
    ep = Endpointer(EndpointerConfig())
    signals = _run(ep, [0.9] * _windows(1) + [0.0] * _windows(0.3))
    assert signals[-1][1] is EndpointSignal.PAUSE
    ep.carry(ep.start + SR, SR // 2, keep_silence=True)
    more = [ep.step(0.0, 10 * SR + i * WINDOW, 0) for i in range(_windows(0.3))]
    # No second PAUSE for the same silence; END arrives at 0.5 s of it.
    assert EndpointSignal.PAUSE not in more
    assert EndpointSignal.END in more
