"""``loquilex transcribe AUDIO``: offline file transcription into txt/json/vtt/srt."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from loquilex.asr import transcribe_array
from loquilex.audio import decode_file, duration_of
from loquilex.cli._common import CliError, Context
from loquilex.conversation import diarize_as_configured
from loquilex.export import FORMATS, Transcript, render
from loquilex.models import load_whisper
from loquilex.mt import MTStore, open_translator

__all__ = ["register"]

#: Files at least this long get a progress line on stderr.
PROGRESS_MIN_S = 30.0


def register(sub: Any) -> None:
    p = sub.add_parser("transcribe", help="transcribe an audio file offline")
    p.add_argument("audio", type=Path, help="any file PyAV can decode")
    p.add_argument("-f", "--format", choices=sorted(FORMATS), default="txt")
    p.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    p.add_argument("--model", help="model id or directory (default: the configured default)")
    p.add_argument("--device", choices=["cpu", "cuda", "auto"])
    p.add_argument("--beam", type=int, help="beam size (default from settings: 5)")
    p.add_argument("--translate", metavar="LANG", help="also translate every segment into LANG")
    p.add_argument("--mt-model", help="translation model id (default: mt.model or the installed)")
    p.add_argument(
        "--bilingual", action="store_true", help="with --translate: both languages in VTT/SRT/TXT"
    )
    p.add_argument(
        "--diarize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="label segments by speaker, clustering the whole file at once (default: "
        "conversation.diarize, on when the voice encoder is installed)",
    )
    p.set_defaults(handler=run)


class _Progress:
    def __init__(self) -> None:
        self._tty = sys.stderr.isatty()
        self._last_decile = -1

    def __call__(self, done: float, total: float) -> None:
        fraction = min(done / total, 1.0) if total else 1.0
        if self._tty:
            sys.stderr.write(f"\rtranscribing: {fraction:5.1%} ({done:.0f}/{total:.0f} s)")
            sys.stderr.flush()
        elif int(fraction * 10) > self._last_decile:
            self._last_decile = int(fraction * 10)
            print(f"transcribing: {fraction:.0%} ({done:.0f}/{total:.0f} s)", file=sys.stderr)

    def close(self) -> None:
        if self._tty:
            sys.stderr.write("\n")


def run(args: argparse.Namespace, ctx: Context) -> int:
    asr = ctx.settings.asr
    beam = args.beam if args.beam is not None else asr.beam_size
    if not 1 <= beam <= 10:
        print("loquilex: error: --beam must be between 1 and 10", file=sys.stderr)
        return 2
    audio = decode_file(args.audio)
    model_path = ctx.store.resolve(asr.model)
    # One file, one decode at a time: let CTranslate2 use every core for it.
    model = load_whisper(model_path, asr.device, asr.compute_type, cpu_threads=0, workers=1)
    name = asr.model or ctx.store.get_default()
    progress = _Progress() if duration_of(audio) >= PROGRESS_MIN_S else None
    transcript = transcribe_array(
        model, audio, model_name=name, beam_size=beam, language=asr.language, progress=progress
    )
    if progress is not None:
        progress.close()
    transcript = diarize_as_configured(transcript, audio, ctx.settings.conversation, args.diarize)
    if args.translate:
        transcript = translate_transcript(ctx, transcript, args.translate, args.mt_model)
    text = render(transcript, args.format, bilingual=args.bilingual and bool(args.translate))
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


def translate_transcript(
    ctx: Context, transcript: Transcript, lang: str, model_id: str | None
) -> Transcript:
    """Every segment of ``transcript`` with its translation into ``lang``."""
    translator = open_translator(MTStore(ctx.settings.data_dir), ctx.settings.mt, model_id)
    if lang not in translator.languages():
        raise CliError(
            f"translation model {translator.name} does not translate into {lang!r}; "
            f"it offers {', '.join(translator.languages()) or 'none'}"
        )
    segments = list(transcript.segments)
    texts: list[str] = []
    for start in range(0, len(segments), 16):
        texts += translator.translate([s.text.strip() for s in segments[start : start + 16]], lang)
    return dataclasses.replace(
        transcript,
        segments=tuple(
            dataclasses.replace(s, translation=t) for s, t in zip(segments, texts, strict=True)
        ),
        translation_lang=lang,
    )
