"""What every subcommand shares: settings from the layers, the model store, clean errors."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loquilex.config import Layer, Settings, load_settings
from loquilex.errors import CliError
from loquilex.models import ModelStore

__all__ = ["CliError", "Context", "add_conversation_flags", "build_context"]


@dataclass(slots=True)
class Context:
    settings: Settings
    provenance: dict[str, Layer]
    profile: Path | None

    @property
    def store(self) -> ModelStore:
        return ModelStore(self.settings.data_dir)


def _flag_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Map the flags a subcommand defined onto the nested settings shape."""
    mapping = {
        "log_level": ("log_level",),
        "log_format": ("log_format",),
        "model": ("asr", "model"),
        "device": ("asr", "device"),
        "host": ("server", "host"),
        "port": ("server", "port"),
        "redis": ("cluster", "redis_url"),
        "node_url": ("cluster", "node_url"),
    }
    out: dict[str, Any] = {}
    for attr, path in mapping.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        node = out
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return out


def build_context(args: argparse.Namespace) -> Context:
    settings, provenance = load_settings(args.profile, _flag_overrides(args))
    return Context(settings, provenance, args.profile)


def add_conversation_flags(parser: argparse.ArgumentParser) -> None:
    """``--diarize/--no-diarize`` and ``--prosody``, for the commands that caption."""
    parser.add_argument(
        "--diarize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="label captions by speaker (default: conversation.diarize, on when the voice "
        "encoder is installed)",
    )
    parser.add_argument(
        "--prosody",
        action="store_true",
        help="describe pitch, loudness and speaking rate of each final (audio_state)",
    )
