"""``loquilex export TRANSCRIPT.json -f vtt|srt|txt``: regenerate formats from the JSON."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from loquilex.cli._common import CliError, Context
from loquilex.export import FORMATS, Transcript, render

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("export", help="convert a JSON transcript to another format")
    p.add_argument("transcript", type=Path, help="a JSON transcript (transcribe -f json)")
    p.add_argument("-f", "--format", choices=sorted(FORMATS), required=True)
    p.add_argument("-o", "--output", type=Path)
    p.add_argument(
        "--bilingual",
        action="store_true",
        help="add each segment's translation (a line under each cue; TXT: tab-separated)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    transcript = Transcript.load(args.transcript)
    if args.bilingual and not transcript.bilingual:
        raise CliError(f"{args.transcript} has no translations (transcribe it with --translate)")
    text = render(transcript, args.format, bilingual=args.bilingual)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0
