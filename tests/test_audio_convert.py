"""PCM decoding, channel mixing and streaming resampling."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from loquilex.audio import Resampler, StreamConverter, pcm_to_float
from loquilex.errors import AudioFormatError


def test_pcm16_and_f32_decode_and_mix() -> None:
    stereo = np.array([[1000, -1000], [32767, 32767]], dtype="<i2").tobytes()
    mono = pcm_to_float(stereo, channels=2)
    assert mono.dtype == np.float32
    np.testing.assert_allclose(mono, [0.0, 32767 / 32768], atol=1e-6)
    f32 = np.array([0.5, -0.25], dtype="<f4").tobytes()
    np.testing.assert_allclose(pcm_to_float(f32, encoding="f32le"), [0.5, -0.25])


@pytest.mark.parametrize(
    ("data", "kwargs", "match"),
    [
        (b"\x00\x01\x02", {}, "whole number"),
        (b"\x00" * 6, {"channels": 2}, "whole number"),
        (b"\x00" * 4, {"encoding": "mulaw"}, "unsupported audio format"),
        (np.array([np.nan], dtype="<f4").tobytes(), {"encoding": "f32le"}, "NaN"),
    ],
)
def test_bad_pcm_is_refused(data: bytes, kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(AudioFormatError, match=match):
        pcm_to_float(data, **kwargs)  # type: ignore[arg-type]


def test_bad_stream_formats() -> None:
    with pytest.raises(AudioFormatError, match="sample rate"):
        StreamConverter(sample_rate=100)
    with pytest.raises(AudioFormatError, match="channel"):
        StreamConverter(channels=0)


@pytest.mark.parametrize("rate", [8000, 22050, 44100, 48000])
def test_resampled_tone_keeps_pitch_and_length(rate: int) -> None:
    t = np.arange(rate * 2) / rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    out = Resampler(rate).process(tone)
    assert abs(len(out) - 32000) <= 2
    spectrum = np.abs(np.fft.rfft(out[1000:-1000]))
    peak_hz = np.argmax(spectrum) * 16000 / len(out[1000:-1000])
    assert peak_hz == pytest.approx(440, abs=3)


def test_downsampling_removes_content_above_nyquist() -> None:
    t = np.arange(48000) / 48000
    alias_bait = np.sin(2 * np.pi * 12000 * t).astype(np.float32)  # above 8 kHz
    out = Resampler(48000).process(alias_bait)
    assert np.sqrt(np.mean(out[200:-200] ** 2)) < 0.02


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from([8000, 16000, 44100, 48000]),
    st.lists(st.integers(1, 3000), min_size=1, max_size=12),
)
def test_chunked_resampling_equals_whole(rate: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(0)
    signal = rng.uniform(-1, 1, sum(cuts)).astype(np.float32)
    whole = Resampler(rate).process(signal)
    chunked_rs = Resampler(rate)
    parts, pos = [], 0
    for n in cuts:
        parts.append(chunked_rs.process(signal[pos : pos + n]))
        pos += n
    np.testing.assert_allclose(np.concatenate(parts), whole, atol=1e-5)


def test_file_decoding_matches_faster_whisper_and_keeps_pitch(tmp_path: Path) -> None:
    """Our decoder joins blocks once instead of growing a buffer; the samples it returns are
    exactly those of faster-whisper's own ``decode_audio``, for a stereo 44.1 kHz file."""
    from faster_whisper.audio import decode_audio

    from loquilex.audio import decode_file

    rate, seconds = 44100, 3.0
    t = np.arange(int(rate * seconds)) / rate
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    right = 0.25 * np.sin(2 * np.pi * 440 * t)
    frames = (np.stack([left, right], axis=1) * 32767).astype("<i2")
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(frames.tobytes())

    ours = decode_file(path)
    assert ours.dtype == np.float32
    np.testing.assert_array_equal(ours, decode_audio(str(path), sampling_rate=16000))
    assert abs(len(ours) - 16000 * seconds) <= 16
    spectrum = np.abs(np.fft.rfft(ours[1600:-1600]))
    peak_hz = np.argmax(spectrum) * 16000 / (len(ours) - 3200)
    assert abs(peak_hz - 440) < 2
    assert 0.3 < float(np.max(np.abs(ours))) < 0.45  # the two channels mixed, not one of them
