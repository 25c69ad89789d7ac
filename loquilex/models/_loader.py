"""Validate model directories and load one shared ``WhisperModel`` per configuration."""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loquilex._priority import at_low_priority
from loquilex.errors import ModelError

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = [
    "forget_model",
    "load_configured",
    "load_whisper",
    "resolve_device",
    "validate_model_dir",
]

logger = logging.getLogger(__name__)

_REQUIRED = ("model.bin", "config.json", "tokenizer.json")
_cache: dict[tuple[str, str, str, int, int, bool], Any] = {}
_cache_lock = threading.Lock()


def validate_model_dir(path: Path) -> None:
    """Raise ModelError with a fix-it hint unless ``path`` looks like a CTranslate2 Whisper dir."""
    if not path.is_dir():
        raise ModelError(f"model directory {path} does not exist")
    missing = [name for name in _REQUIRED if not (path / name).is_file()]
    if not (path / "vocabulary.txt").is_file() and not (path / "vocabulary.json").is_file():
        missing.append("vocabulary.txt|vocabulary.json")
    if missing:
        raise ModelError(
            f"model directory {path} is broken (missing {', '.join(missing)}); "
            "reinstall it with `loquilex models install ID` or point at a CTranslate2 Whisper model"
        )
    try:
        json.loads((path / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"model directory {path} is broken (unreadable config.json); reinstall it"
        ) from exc
    if (path / "model.bin").stat().st_size < 1024:
        raise ModelError(f"model directory {path} is broken (model.bin is truncated); reinstall it")


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when CTranslate2 sees a CUDA device, else ``cpu``. ``cuda`` on a
    machine without one is refused here, in words, before a load fails obscurely."""
    if device == "cpu":
        return device
    import ctranslate2

    cuda = ctranslate2.get_cuda_device_count() > 0
    if device == "auto":
        return "cuda" if cuda else "cpu"
    if device == "cuda" and not cuda:
        raise ModelError(
            "device 'cuda' was asked for, but CTranslate2 finds no CUDA device on this "
            "machine; use device 'cpu' or 'auto'"
        )
    return device


def load_whisper(
    path: Path,
    device: str = "cpu",
    compute_type: str = "int8",
    cpu_threads: int = 0,
    workers: int = 1,
    *,
    background: bool = False,
) -> WhisperModel:
    """Load (once per process and configuration) the model at ``path``. A ``background``
    load is a copy of its own whose threads yield the CPU to live captions (whole-file
    transcription in the server)."""
    validate_model_dir(path)
    device = resolve_device(device)
    if device == "cuda" and compute_type == "int8":
        compute_type = "int8_float16"
    key = (str(path.resolve()), device, compute_type, cpu_threads, workers, background)
    with _cache_lock:
        model = _cache.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            logger.debug("loading Whisper model from %s on %s (%s)", path, device, compute_type)

            def build() -> WhisperModel:
                return WhisperModel(
                    str(path),
                    device=device,
                    compute_type=compute_type,
                    cpu_threads=cpu_threads,
                    num_workers=workers,
                    local_files_only=True,
                )

            try:
                model = at_low_priority(build) if background else build()
            except (RuntimeError, ValueError, OSError) as exc:
                logger.debug("cannot load the model at %s: %s", path, exc)
                raise ModelError(
                    f"cannot load the model {path.name!r}: it is damaged or not a "
                    "CTranslate2 Whisper model; reinstall it"
                ) from exc
            _cache[key] = model
    return model


def forget_model(path: Path) -> int:
    """Drop every cached load of the model at ``path``; returns how many were dropped.
    The memory is freed once the last engine using it is gone."""
    resolved = str(path.resolve())
    with _cache_lock:
        keys = [key for key in _cache if key[0] == resolved]
        for key in keys:
            del _cache[key]
    return len(keys)


def load_configured(path: Path, asr: Any, device: str | None = None) -> WhisperModel:
    """``load_whisper`` with the threads, replicas and compute type of ``Settings.asr``."""
    return load_whisper(path, device or asr.device, asr.compute_type, asr.cpu_threads, asr.workers)
