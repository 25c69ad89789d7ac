"""``loquilex live``: captions from the microphone or a file, in the terminal or as JSON lines.

``--jsonl`` is a machine contract (subprocess sessions run it): stdout carries exactly one
SPEC event envelope per line and nothing else; logs go to stderr. See docs/live-jsonl.md.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid
from pathlib import Path
from typing import Any, TextIO

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import DecodeScheduler, StreamingASR, WhisperEngine
from loquilex.audio import AudioSource, FileSource, MicSource
from loquilex.cli._common import Context
from loquilex.models import load_configured
from loquilex.protocol import (
    Envelope,
    EventEmitter,
    SessionEndedPayload,
    SessionStartedPayload,
    StatusPayload,
)
from loquilex.session import CaptionPipeline

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("live", help="live captions from the microphone or a file")
    p.add_argument("--model", help="model id or directory")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"])
    p.add_argument("--input", default="mic", help="'mic' (default) or an audio file")
    p.add_argument("--fast", action="store_true", help="replay a file as fast as possible")
    p.add_argument("--jsonl", action="store_true", help="one event envelope per line on stdout")
    p.set_defaults(handler=run)


class _TerminalView:
    """Partials rewrite the current line in place; finals are committed on their own line."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._partial = False

    def __call__(self, envelope: Envelope) -> None:
        if envelope.type == "PARTIAL" and self.tty:
            text = envelope.payload["segment"]["text"]
            self.out.write("\r\x1b[2K" + text[-200:])
            self._partial = True
        elif envelope.type == "FINALIZED":
            text = envelope.payload["segment"]["text"]
            if self._partial:
                self.out.write("\r\x1b[2K")
                self._partial = False
            if text:
                self.out.write(f"[{envelope.payload['segment']['start']:7.2f}] {text}\n")
        elif envelope.type == "ERROR":
            print(f"error: {envelope.payload['message']}", file=sys.stderr)
        self.out.flush()


def _jsonl(out: TextIO) -> Any:
    def write(envelope: Envelope) -> None:
        out.write(envelope.to_json() + "\n")
        out.flush()

    return write


async def _live(args: argparse.Namespace, ctx: Context) -> int:
    asr_cfg = ctx.settings.asr
    source: AudioSource
    if args.input == "mic":
        source = MicSource()
    else:
        source = FileSource(Path(args.input), realtime=not args.fast)
    model_path = ctx.store.resolve(asr_cfg.model)
    model = await asyncio.to_thread(load_configured, model_path, asr_cfg)
    config = ctx.settings.stream
    engine = WhisperEngine(model, asr_cfg.language)
    emitter = EventEmitter()
    sink = _jsonl(sys.stdout) if args.jsonl else _TerminalView(sys.stdout)
    session_id = str(uuid.uuid4())
    sink(
        emitter.emit(
            "SESSION_STARTED",
            SessionStartedPayload(
                session_id=session_id,
                config={
                    "model": asr_cfg.model or ctx.store.get_default(),
                    "input": args.input,
                    "fast": args.fast,
                    "stream": ctx.settings.stream.model_dump(),
                },
            ),
        )
    )
    sink(emitter.emit("STATUS", StatusPayload(stage="operational", message="listening")))

    scheduler = DecodeScheduler(workers=asr_cfg.workers)
    pipeline = CaptionPipeline(
        source,
        StreamingASR(engine, config),
        scheduler,
        PartialFinalAggregator(emitter),
        sink,
        name=session_id,
    )
    loop = asyncio.get_running_loop()
    stopping: list[str] = []

    def stop(signame: str) -> None:
        stopping.append(signame)
        pipeline.stop()

    loop.add_signal_handler(signal.SIGUSR1, pipeline.finalize)
    loop.add_signal_handler(signal.SIGINT, stop, "SIGINT")
    loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
    try:
        await pipeline.run()
    finally:
        for signum in (signal.SIGUSR1, signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        scheduler.close()
    if stopping:
        sink(
            emitter.emit(
                "STATUS", StatusPayload(stage="stopping", message=f"stopped by {stopping[0]}")
            )
        )
    sink(emitter.emit("SESSION_ENDED", SessionEndedPayload(stats=pipeline.stats())))
    return 0


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.fast and args.input == "mic":
        print("loquilex: error: --fast needs --input FILE", file=sys.stderr)
        return 2
    return asyncio.run(_live(args, ctx))
