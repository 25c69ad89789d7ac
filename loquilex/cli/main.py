"""Entry point: parse arguments, configure logging once, dispatch, turn errors into one line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from loquilex import __version__
from loquilex._memory import use_jemalloc
from loquilex.cli import bench, config_cmd, doctor, export, live, models, serve, transcribe
from loquilex.cli._common import CliError, Context, build_context
from loquilex.errors import LoquiLexError
from loquilex.logs import configure_logging

__all__ = ["main"]

logger = logging.getLogger(__name__)

Handler = Callable[[argparse.Namespace, Context], int]


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr, not the whole usage text."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="loquilex", description="Local-first live captioning and translation.")
    parser.add_argument("--version", action="version", version=f"loquilex {__version__}")
    parser.add_argument("--profile", type=Path, help="TOML profile file (overrides LX_* env)")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--log-format", choices=["text", "json"])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in (serve, live, transcribe, export, models, doctor, config_cmd, bench):
        module.register(sub)
    return parser


#: Commands that run for hours: they get jemalloc (loquilex/_memory.py).
_LONG_RUNNING = ("serve", "live")


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. ``argv`` None means this is the program itself (not a caller in
    the same process): then a long-running command may restart with jemalloc first."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if argv is None and args.command in _LONG_RUNNING:
        use_jemalloc(sys.argv[1:])
    handler: Handler = args.handler
    try:
        ctx = build_context(args)
        configure_logging(ctx.settings.log_level, ctx.settings.log_format)
        return handler(args, ctx)
    except CliError as exc:
        print(f"loquilex: error: {exc}", file=sys.stderr)
        return 2
    except LoquiLexError as exc:
        logger.debug("command failed", exc_info=True)
        print(f"loquilex: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except Exception as exc:
        logger.debug("unexpected failure", exc_info=True)
        print(
            f"loquilex: internal error ({type(exc).__name__}); rerun with --log-level DEBUG "
            "for the traceback",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
