"""The dev set's builders: how realistic conditions are made, and what is skipped."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from loquilex.audio import SAMPLE_RATE
from loquilex.bench import _devset
from loquilex.bench._devset import _breathy, _hesitate, _reverb, _rms_db, _tempo, build_devset


def _tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    """A tone that starts and ends loud (a cosine whole cycles long): nothing to trim."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (0.1 * np.cos(2 * np.pi * hz * t)).astype(np.float32)


def test_a_recording_whose_system_package_is_missing_is_skipped_with_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    phone = next(r for r in _devset.DEVSET if r.name == "phone")
    assert phone.needs is not None
    missing = replace(phone, needs=(tmp_path / "no-such-package", phone.needs[1]))
    monkeypatch.setattr(_devset, "DEVSET", (missing,))
    with caplog.at_level(logging.WARNING, logger="loquilex.bench._devset"):
        built = build_devset(tmp_path / "set", tmp_path / "cache", names=["phone"])
    assert built == []
    assert not (tmp_path / "set" / "phone.wav").exists()
    assert "apt-get install asterisk-core-sounds-en-wav" in caplog.text


def test_a_hesitation_is_silence_put_inside_the_sentence() -> None:
    # Two "words" with a quiet gap between them, in the middle third.
    audio = np.concatenate([_tone(1.0), np.zeros(1600, np.float32), _tone(1.0)])
    out = _hesitate(audio, 0.7)
    assert len(out) == len(audio) + int(0.7 * SAMPLE_RATE)
    # The pause went into the gap between the two, not at either end.
    assert not np.any(out[int(1.1 * SAMPLE_RATE) : int(1.7 * SAMPLE_RATE)])
    assert np.array_equal(out[:SAMPLE_RATE], audio[:SAMPLE_RATE])
    assert np.array_equal(out[-SAMPLE_RATE:], audio[-SAMPLE_RATE:])


def test_breath_noise_follows_the_voice_at_the_asked_level() -> None:
    voice = np.concatenate([_tone(1.0), np.zeros(SAMPLE_RATE, np.float32)])
    out = _breathy(voice, 10.0, seed=1)
    noise = out - voice
    assert _rms_db(voice) - _rms_db(noise) == pytest.approx(10.0, abs=0.1)
    # It follows the voice's loudness: almost nothing where the voice is silent.
    assert np.abs(noise[SAMPLE_RATE + 800 :]).max() < 1e-3


def test_a_room_adds_a_reverberant_tail() -> None:
    dry = _tone(0.5)
    rir = np.zeros(SAMPLE_RATE // 2, np.float32)
    rir[100], rir[2000], rir[6000] = 1.0, 0.5, 0.25  # direct path, then two reflections
    wet = _reverb(dry, rir)
    assert len(dry) < len(wet) <= len(dry) + int(0.3 * SAMPLE_RATE)
    # Starts at the direct path: the dry signal is there, undelayed, under the reflections.
    assert np.allclose(wet[:1900], dry[:1900], atol=1e-5)


def test_tempo_changes_the_length_not_the_pitch(tmp_path: Path) -> None:
    tone = _tone(2.0)
    fast, slow = _tempo(tone, 1.25, tmp_path), _tempo(tone, 0.8, tmp_path)
    assert len(fast) / SAMPLE_RATE == pytest.approx(2.0 / 1.25, rel=0.05)
    assert len(slow) / SAMPLE_RATE == pytest.approx(2.0 / 0.8, rel=0.05)
    spectrum = np.abs(np.fft.rfft(slow[:SAMPLE_RATE]))
    assert np.argmax(spectrum) == pytest.approx(220, abs=3)  # 1 Hz bins over 1 s
