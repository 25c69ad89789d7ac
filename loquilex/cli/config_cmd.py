"""``loquilex config show``: the effective settings and the layer each value came from."""

from __future__ import annotations

import argparse
import json
from typing import Any

from loquilex.cli._common import Context

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("config", help="inspect settings")
    csub = p.add_subparsers(dest="config_command", required=True)
    show = csub.add_parser("show", help="effective settings and where each came from")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=run_show)


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flatten(value, name + "."))
        else:
            out[name] = value
    return out


def run_show(args: argparse.Namespace, ctx: Context) -> int:
    values = _flatten(ctx.settings.model_dump(mode="json"))
    if args.json:
        print(
            json.dumps(
                {k: {"value": v, "source": str(ctx.provenance[k])} for k, v in values.items()},
                indent=2,
            )
        )
        return 0
    width = max(len(k) for k in values)
    for key, value in values.items():
        source = str(ctx.provenance[key])
        if source == "profile" and ctx.profile is not None:
            source = f"profile {ctx.profile}"
        elif source == "env":
            source = "env LX_" + key.upper().replace(".", "__")
        print(f"{key.ljust(width)}  {json.dumps(value)}  ({source})")
    return 0
