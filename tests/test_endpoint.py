"""The endpointing state machine on scripted VAD probabilities (no audio, no model)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

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


def test_energy_vad_learns_the_noise_floor() -> None:
    from loquilex.asr import EnergyVad

    rng = np.random.default_rng(0)
    fan = rng.standard_normal(SR * 3) * 0.01  # steady noise, -40 dBFS
    t = np.arange(SR) / SR
    voice = 0.1 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 4 * t))  # louder
    audio = np.concatenate([fan, fan[:SR] + voice, fan[:SR]]).astype(np.float32)
    vad = EnergyVad()
    windows = audio[: len(audio) // WINDOW * WINDOW].reshape(-1, WINDOW)
    probs = vad.score(windows, np.zeros(64, np.float32))
    per_s = SR // WINDOW
    assert probs[: 3 * per_s].max() < 0.35, "steady noise must not count as speech"
    assert np.mean(probs[3 * per_s : 4 * per_s] > 0.5) > 0.6
    assert probs[-per_s // 2 :].max() < 0.35


class _Fixed:
    """A SpeechScorer that hands out the probabilities it was given, in order."""

    def __init__(self, probs: list[float]) -> None:
        self._probs = np.asarray(probs, np.float32)
        self.voice = np.zeros(0, np.float32)

    def score(
        self, windows: npt.NDArray[np.float32], context: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        out, self._probs = self._probs[: len(windows)], self._probs[len(windows) :]
        self.voice = out
        return out


def test_hybrid_vad_leaves_onsets_to_the_voice_model() -> None:
    """The level gate counts after 6 windows in a row (192 ms) and until 10 quiet ones; the
    voice model's own score is always there, and is what ``voice`` reports."""
    from loquilex.asr._vad import HybridVad

    voice = [0.0] * 4 + [0.9] * 4 + [0.0] * 32
    gate = [0.0] * 2 + [1.0] * 14 + [0.0] * 4 + [1.0] * 3 + [0.0] * 10 + [1.0] * 3 + [0.0] * 4
    vad = HybridVad(_Fixed(voice), _Fixed(gate))
    windows = np.zeros((40, WINDOW), np.float32)
    probs = vad.score(windows[:10], np.zeros(64, np.float32))
    probs = np.concatenate([probs, vad.score(windows[10:], np.zeros(64, np.float32))])
    assert list(vad.voice) == voice[10:]
    # Windows 2-6: the gate hears speech, but only the voice model counts (from window 4).
    assert list(probs[:7]) == pytest.approx([0, 0, 0, 0, 0.9, 0.9, 0.9])
    # From window 7 (its 6th in a row) the gate counts, across a 4-window gap, ...
    assert list(probs[7:23]) == pytest.approx([1.0] * 9 + [0.0] * 4 + [1.0] * 3)
    # ... and after 10 quiet windows a short burst (3 windows) no longer does.
    assert list(probs[23:]) == pytest.approx([0.0] * 17)


@pytest.mark.parametrize("name", ["meeting-turns", "standup"])
def test_the_devset_meetings_run_sentences_together_inside_turns(tmp_path: Path, name: str) -> None:
    from loquilex.bench._corpus import STANDUP_TURNS, TURNS
    from loquilex.bench._devset import build_devset

    turns = {"meeting-turns": TURNS, "standup": STANDUP_TURNS}[name]
    build_devset(tmp_path, tmp_path / "cache", names=[name], real=False)
    timing = json.loads((tmp_path / f"{name}.timing.json").read_text())
    sentences = [s for _, turn in turns for s in turn]
    assert [c["text"] for c in timing] == sentences
    speakers = [f"voice-{speaker}" for speaker, turn in turns for _ in turn]
    assert [c["speaker"] for c in timing] == speakers
    gaps = [b["start"] - a["end"] for a, b in itertools.pairwise(timing)]
    last_of_turn = set(np.cumsum([len(turn) for _, turn in turns]) - 1)
    for i, gap in enumerate(gaps):
        if i in last_of_turn:
            assert 0.29 <= gap <= 1.51
        else:
            assert 0.04 <= gap <= 0.16
    assert (tmp_path / f"{name}.txt").read_text().strip() == " ".join(sentences)
