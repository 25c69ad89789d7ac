"""SessionManager housekeeping without a model: engines loaded for other models are
unloaded when no session has used them for a while; the default one stays."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from loquilex.config import load_settings
from loquilex.session import SessionManager
from loquilex.session._manager import ENGINE_IDLE_S


def test_unused_engines_are_unloaded_and_the_default_stays(tmp_path: Path) -> None:
    settings, _ = load_settings(overrides={"data_dir": str(tmp_path)})

    async def run() -> tuple[list[set[tuple[str, str]]], tuple[str, str]]:
        manager = SessionManager(settings)
        engines: dict[tuple[str, str], Any] = manager._engines
        default = (manager.default_model, "cpu")
        other = (str(tmp_path / "models" / "custom"), "cpu")
        for key in (default, other):
            engines[key] = object()
            manager._engine_paths[key] = Path(key[0])
        seen = []
        manager.reap(1000.0)
        seen.append(set(engines))
        manager.reap(1000.0 + ENGINE_IDLE_S - 1)
        seen.append(set(engines))
        manager.reap(1000.0 + ENGINE_IDLE_S)
        seen.append(set(engines))
        await manager.shutdown(1.0)
        return seen, default

    (first, almost, after), default = asyncio.run(run())
    assert len(first) == len(almost) == 2
    assert after == {default}
