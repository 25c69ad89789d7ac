"""Speech recordings with known sentence timings: espeak-ng synthesis and composition.

Each sentence is spoken (or taken from a real recording) separately, trimmed of its own
leading and trailing silence, and joined with the requested pauses, so the true start and
end of every sentence is known to the sample. Benchmarks use those ends to measure final
latency; tests use the text for WER.
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

__all__ = [
    "SpeechClip",
    "SpokenPiece",
    "compose",
    "speak",
    "synthesize",
    "trim_silence",
    "write_wav",
]

_SILENCE_LEVEL = 0.01


@dataclass(frozen=True, slots=True)
class SpeechClip:
    """Where one sentence sits in a recording (seconds), and who says it."""

    text: str
    start: float
    end: float
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class SpokenPiece:
    """One sentence's audio (16 kHz mono, trimmed), what it says and who says it."""

    text: str
    audio: npt.NDArray[np.float32]
    speaker: str | None = None


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise LoquiLexError(f"{tool} is not installed (apt-get install espeak-ng sox)")
    return path


def trim_silence(
    audio: npt.NDArray[np.float32], level: float | None = None
) -> npt.NDArray[np.float32]:
    """Cut leading and trailing samples quieter than ``level`` (default: 1% of full scale,
    or a tenth of the peak for quiet recordings)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    threshold = level if level is not None else min(_SILENCE_LEVEL, peak / 10)
    loud = np.flatnonzero(np.abs(audio) > threshold)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def speak(text: str, *, voice: str = "en-us", rate: int = 165) -> npt.NDArray[np.float32]:
    """``text`` spoken by espeak-ng, 16 kHz mono, trimmed of silence at both ends."""
    with tempfile.TemporaryDirectory() as tmp:
        raw, wav = Path(tmp) / "raw.wav", Path(tmp) / "out.wav"
        subprocess.run(
            [_require("espeak-ng"), "-v", voice, "-s", str(rate), "-w", str(raw), text],
            check=True,
            capture_output=True,
        )
        # No dither (-D): sox's default dither is random, so the same text gave slightly
        # different samples each time, and tiny.en's errors on a whole meeting moved by
        # ±4 words of 193 between two builds of the same recording.
        subprocess.run(
            [
                _require("sox"),
                "-D",
                str(raw),
                "-r",
                str(SAMPLE_RATE),
                "-c",
                "1",
                "-b",
                "16",
                str(wav),
            ],
            check=True,
            capture_output=True,
        )
        return trim_silence(decode_file(wav))


def write_wav(path: Path, audio: npt.NDArray[np.float32]) -> None:
    """16 kHz mono PCM16 WAV."""
    import wave

    pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as wf:
        wf.setnchannels(1)
        wf.setsampwidth(2)
        wf.setframerate(SAMPLE_RATE)
        wf.writeframes(pcm.tobytes())


def _timing(clip: SpeechClip) -> dict[str, object]:
    entry = asdict(clip)
    if entry["speaker"] is None:
        del entry["speaker"]
    return entry


def compose(
    pieces: Sequence[SpokenPiece],
    out: Path,
    *,
    pauses: Sequence[float] | float = 1.0,
    lead_in: float = 0.5,
    tail: float = 1.0,
) -> list[SpeechClip]:
    """Join ``pieces`` with ``pauses`` between them into ``out`` (WAV); also write
    ``out.timing.json`` (where each sentence is) and ``out.txt`` (the reference text)."""
    gaps = [pauses] * len(pieces) if isinstance(pauses, (int, float)) else list(pauses)
    if len(gaps) < len(pieces) - 1:
        raise ValueError(f"{len(pieces)} sentences need {len(pieces) - 1} pauses, got {len(gaps)}")
    parts: list[npt.NDArray[np.float32]] = [np.zeros(int(lead_in * SAMPLE_RATE), np.float32)]
    clips: list[SpeechClip] = []
    cursor = int(lead_in * SAMPLE_RATE)
    for index, piece in enumerate(pieces):
        n = len(piece.audio)
        clips.append(
            SpeechClip(
                piece.text,
                round(cursor / SAMPLE_RATE, 3),
                round((cursor + n) / SAMPLE_RATE, 3),
                piece.speaker,
            )
        )
        gap = int((gaps[index] if index < len(pieces) - 1 else tail) * SAMPLE_RATE)
        parts += [piece.audio.astype(np.float32), np.zeros(gap, np.float32)]
        cursor += n + gap
    out.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out, np.concatenate(parts))
    out.with_suffix(".timing.json").write_text(
        json.dumps([_timing(c) for c in clips], indent=2) + "\n", encoding="utf-8"
    )
    out.with_suffix(".txt").write_text(" ".join(p.text for p in pieces) + "\n", encoding="utf-8")
    return clips


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
    """Speak ``sentences`` with one voice into ``out`` (WAV, plus timing and text files)."""
    pieces = [SpokenPiece(s, speak(s, voice=voice, rate=rate)) for s in sentences]
    return compose(pieces, out, pauses=pauses, lead_in=lead_in, tail=tail)
