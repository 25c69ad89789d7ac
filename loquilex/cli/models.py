"""``loquilex models list|install|remove|set-default``."""

from __future__ import annotations

import argparse
from typing import Any

from loquilex.cli._common import Context

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list, install, remove models and pick the default")
    msub = p.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="known models and their state").set_defaults(handler=run_list)
    for name, handler, help_text in (
        ("install", run_install, "install a model from its PyPI packages"),
        ("remove", run_remove, "remove an installed model"),
        ("set-default", run_set_default, "use this model when none is given"),
    ):
        q = msub.add_parser(name, help=help_text)
        q.add_argument(
            "model", help="model id" + (" or directory" if name == "set-default" else "")
        )
        q.set_defaults(handler=handler)


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    rows = [("ID", "LANGUAGES", "SIZE", "INSTALLED", "DEFAULT")]
    store = ctx.store
    for st in store.status():
        rows.append(
            (
                st.spec.id,
                ",".join(st.spec.languages),
                f"{st.spec.size_mb} MB",
                "yes" if st.installed else "no",
                "*" if st.is_default else "",
            )
        )
    default = store.get_default()
    if not any(st.spec.id == default for st in store.status()):
        rows.append((default, "?", "?", "yes", "*"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


def run_install(args: argparse.Namespace, ctx: Context) -> int:
    path = ctx.store.install(args.model)
    print(f"{args.model} installed at {path}")
    return 0


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    ctx.store.remove(args.model)
    print(f"{args.model} removed")
    return 0


def run_set_default(args: argparse.Namespace, ctx: Context) -> int:
    value = ctx.store.set_default(args.model)
    print(f"default model: {value}")
    return 0
