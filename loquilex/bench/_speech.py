"""Synthetic speech with known sentence timings, made with espeak-ng and sox.

Each sentence is spoken separately, trimmed of espeak's own leading/trailing silence, and
joined with the requested pauses, so the true start and end of every sentence is known to
the sample. Benchmarks use those ends to measure final latency; tests use the text for WER.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from loquilex.audio import SAMPLE_RATE, decode_file
from loquilex.errors import LoquiLexError

__all__ = ["SpeechClip", "synthesize", "write_wav"]

_SILENCE_LEVEL = 0.01


@dataclass(frozen=True, slots=True)
class SpeechClip:
    """Where one sentence sits in the synthesized file (seconds)."""

    text: str
    start: float
    end: float


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LoquiLexError(f"{tool} is not installed (apt-get install espeak-ng sox)")
    return path


def _speak(text: str, voice: str, rate: int, workdir: Path, index: int) -> npt.NDArray[np.float32]:
    raw, wav = workdir / f"{index}.raw.wav", workdir / f"{index}.wav"
    subprocess.run(
        [_require("espeak-ng"), "-v", voice, "-s", str(rate), "-w", str(raw), text],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [_require("sox"), str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(wav)],
        check=True,
        capture_output=True,
    )
    audio = decode_file(wav)
    loud = np.flatnonzero(np.abs(audio) > _SILENCE_LEVEL)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def write_wav(path: Path, audio: npt.NDArray[np.float32]) -> None:
    """16 kHz mono PCM16 WAV."""
    import wave

    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(SAMPLE_RATE)
        wf.writeframes(pcm.tobytes())


def synthesize(
    sentences: Sequence[str],
    out: Path,
    *,
    pauses: Sequence[float] | float = 1.0,
    lead_in: float = 0.5,
    tail: float = 1.0,
    voice: str = "en-us",
    rate: int = 165,
) -> list[SpeechClip]:
    """Speak ``sentences`` into ``out`` (WAV) and write ``out.with_suffix('.timing.json')``."""
    gaps = [pauses] * len(sentences) if isinstance(pauses, (int, float)) else list(pauses)
    if len(gaps) < len(sentences) - 1:
        raise ValueError(
            f"{len(sentences)} sentences need {len(sentences) - 1} pauses, got {len(gaps)}"
        )
    pieces: list[npt.NDArray[np.float32]] = [np.zeros(int(lead_in * SAMPLE_RATE), np.float32)]
    clips: list[SpeechClip] = []
    cursor = lead_in
    with tempfile.TemporaryDirectory() as tmp:
        for index, sentence in enumerate(sentences):
            speech = _speak(sentence, voice, rate, Path(tmp), index)
            clips.append(
                SpeechClip(sentence, round(cursor, 3), round(cursor + len(speech) / SAMPLE_RATE, 3))
            )
            pieces.append(speech)
            cursor += len(speech) / SAMPLE_RATE
            gap = gaps[index] if index < len(sentences) - 1 else tail
            pieces.append(np.zeros(int(gap * SAMPLE_RATE), np.float32))
            cursor += int(gap * SAMPLE_RATE) / SAMPLE_RATE
    write_wav(out, np.concatenate(pieces))
    out.with_suffix(".timing.json").write_text(
        json.dumps([asdict(c) for c in clips], indent=2) + "\n", encoding="utf-8"
    )
    return clips
