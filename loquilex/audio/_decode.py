"""Decode audio files (anything PyAV reads) into 16 kHz mono float32, with clear errors."""

from __future__ import annotations

import logging
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

from loquilex.audio._frames import SAMPLE_RATE
from loquilex.errors import AudioDecodeError

__all__ = ["decode_file", "duration_of"]

logger = logging.getLogger(__name__)


def _check_wav_complete(path: Path) -> None:
    """PyAV happily decodes a WAV cut short; we refuse it, since the user lost audio."""
    with path.open("rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return
        size = path.stat().st_size
        offset = 12
        while True:
            chunk = fh.read(8)
            if len(chunk) < 8:
                raise AudioDecodeError(f"{path}: truncated WAV (no data chunk)")
            cid, clen = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            offset += 8
            if cid == b"data":
                # 0 and 0xFFFFFFFF are used by streaming writers for "unknown length".
                if clen not in (0, 0xFFFFFFFF) and offset + clen > size:
                    raise AudioDecodeError(
                        f"{path}: truncated WAV: header promises {clen} bytes of audio, "
                        f"file holds {size - offset}"
                    )
                return
            offset += clen + (clen & 1)
            fh.seek(offset)


def decode_file(path: Path | str) -> npt.NDArray[np.float32]:
    """Return the file's audio as 16 kHz mono float32; raise AudioDecodeError otherwise."""
    path = Path(path)
    if not path.exists():
        raise AudioDecodeError(f"{path}: no such file")
    if not path.is_file():
        raise AudioDecodeError(f"{path}: not a regular file")
    _check_wav_complete(path)

    import av
    from faster_whisper.audio import decode_audio

    try:
        audio = decode_audio(str(path), sampling_rate=SAMPLE_RATE)
    except (av.error.FFmpegError, ValueError, IndexError, StopIteration) as exc:
        logger.debug("decode failed for %s", path, exc_info=True)
        raise AudioDecodeError(f"{path}: not an audio file that can be decoded") from exc
    if audio.size == 0:
        raise AudioDecodeError(f"{path}: contains no audio")
    return np.asarray(audio, dtype=np.float32)


def duration_of(samples: npt.NDArray[np.float32]) -> float:
    return len(samples) / SAMPLE_RATE
