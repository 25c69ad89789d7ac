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
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel

from loquilex.aggregation import PartialFinalAggregator
from loquilex.asr import DecodeScheduler, StreamingASR, WhisperEngine
from loquilex.audio import AudioSource, FileSource, MicSource
from loquilex.cli._common import Context, add_conversation_flags
from loquilex.conversation import build_enricher
from loquilex.errors import CliError
from loquilex.models import load_configured
from loquilex.mt import CadenceSettings, MTStore, open_translator
from loquilex.protocol import (
    Envelope,
    EventEmitter,
    EventType,
    SessionEndedPayload,
    SessionStartedPayload,
    StatusPayload,
)
from loquilex.session import CaptionPipeline, Translations
from loquilex.speakers import speaker_name

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("live", help="live captions from the microphone or a file")
    p.add_argument("--model", help="model id or directory")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"])
    p.add_argument("--input", default="mic", help="'mic' (default) or an audio file")
    p.add_argument("--fast", action="store_true", help="replay a file as fast as possible")
    p.add_argument(
        "--metrics-interval",
        type=float,
        metavar="S",
        help="emit a METRICS event every S seconds (with --jsonl): final latency, partial "
        "cadence, real-time factor",
    )
    p.add_argument("--jsonl", action="store_true", help="one event envelope per line on stdout")
    p.add_argument(
        "--translate", metavar="LANG", help="translate captions live into LANG (e.g. zh)"
    )
    p.add_argument("--mt-model", help="translation model id (default: mt.model or the installed)")
    add_conversation_flags(p)
    p.set_defaults(handler=run)


class _TerminalView:
    """Partials rewrite the current line in place; finals are committed on their own line,
    each translation on the line under its caption. A translation that arrives after a later
    caption was printed names its caption's start time instead."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self._partial = False
        self._starts: dict[str, float] = {}  # segment id → start, of captions printed
        self._last: str | None = None  # the segment id of the last caption printed
        self._speaker: str | None = None  # the speaker of the last caption printed

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
                start = envelope.payload["segment"]["start"]
                speaker = envelope.payload["segment"].get("speaker_id")
                if speaker is not None and speaker != self._speaker:
                    self.out.write(f"{speaker_name(speaker)}:\n")
                    self._speaker = speaker
                self.out.write(f"[{start:7.2f}] {text}\n")
                self._last = envelope.segment_id or ""
                self._starts[self._last] = start
                if len(self._starts) > 64:  # captions whose translation never came
                    del self._starts[next(iter(self._starts))]
        elif envelope.type == "TRANSLATION" and envelope.payload["final"]:
            if self._partial:
                self.out.write("\r\x1b[2K")
                self._partial = False
            source = envelope.payload["source_segment_id"]
            start = self._starts.pop(source, None)
            if source == self._last or start is None:
                self.out.write(f"{'':9s} {envelope.payload['text']}\n")
            else:
                self.out.write(f"{'':9s} ({start:.2f}) {envelope.payload['text']}\n")
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
    out = _jsonl(sys.stdout) if args.jsonl else _TerminalView(sys.stdout)
    translations = await _translations(args, ctx)

    def sink(envelope: Envelope) -> None:
        out(envelope)
        if translations is not None:
            translations.observe(envelope)

    if translations is not None:
        translations.bind(
            lambda type, payload, segment_id: _emit(sink, emitter, type, payload, segment_id)
        )
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
                    "translate": args.translate is not None,
                    "target_lang": args.translate,
                    "mt_model": translations.translator.name if translations else None,
                    "diarize": args.diarize,
                    "prosody": args.prosody,
                    "stream": ctx.settings.stream.model_dump(),
                },
            ),
        )
    )
    sink(emitter.emit("STATUS", StatusPayload(stage="operational", message="listening")))

    enricher = await asyncio.to_thread(
        build_enricher,
        emitter,
        ctx.settings.conversation,
        diarize=args.diarize,
        prosody=args.prosody,
    )
    scheduler = DecodeScheduler(workers=asr_cfg.workers)
    pipeline = CaptionPipeline(
        source,
        StreamingASR(engine, config),
        scheduler,
        PartialFinalAggregator(emitter),
        sink,
        name=session_id,
        metrics_interval_s=args.metrics_interval,
        enricher=enricher,
    )
    loop = asyncio.get_running_loop()
    if translations is not None:
        translations.start(loop)
    stopping: list[str] = []

    def stop(signame: str) -> None:
        stopping.append(signame)
        pipeline.stop()

    loop.add_signal_handler(signal.SIGUSR1, pipeline.finalize)
    loop.add_signal_handler(signal.SIGINT, stop, "SIGINT")
    loop.add_signal_handler(signal.SIGTERM, stop, "SIGTERM")
    try:
        await pipeline.run()
        if translations is not None:
            await translations.drain()  # every final's translation before SESSION_ENDED
    finally:
        for signum in (signal.SIGUSR1, signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        scheduler.close()
        if translations is not None:
            translations.close()
    if stopping:
        sink(
            emitter.emit(
                "STATUS", StatusPayload(stage="stopping", message=f"stopped by {stopping[0]}")
            )
        )
    stats = pipeline.stats() | (translations.stats() if translations is not None else {})
    sink(emitter.emit("SESSION_ENDED", SessionEndedPayload(stats=stats)))
    return 0


def _emit(
    sink: Callable[[Envelope], None],
    emitter: EventEmitter,
    type: EventType,
    payload: BaseModel,
    segment_id: str | None,
) -> Envelope:
    envelope = emitter.emit(type, payload, segment_id=segment_id)
    sink(envelope)
    return envelope


async def _translations(args: argparse.Namespace, ctx: Context) -> Translations | None:
    """The live translation asked for with --translate; a clear error if it cannot be."""
    if args.translate is None:
        return None
    mt = ctx.settings.mt
    translator = await asyncio.to_thread(
        open_translator, MTStore(ctx.settings.data_dir), mt, args.mt_model
    )
    if args.translate not in translator.languages():
        raise CliError(
            f"translation model {translator.name} does not translate into {args.translate!r}; "
            f"it offers {', '.join(translator.languages()) or 'none'}"
        )
    return Translations(
        translator,
        args.translate,
        cadence=CadenceSettings.from_settings(mt),
    )


def run(args: argparse.Namespace, ctx: Context) -> int:
    if args.fast and args.input == "mic":
        print("loquilex: error: --fast needs --input FILE", file=sys.stderr)
        return 2
    if args.metrics_interval is not None and not 0.5 <= args.metrics_interval <= 3600:
        print("loquilex: error: --metrics-interval is between 0.5 and 3600 s", file=sys.stderr)
        return 2
    return asyncio.run(_live(args, ctx))
