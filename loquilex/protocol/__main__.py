"""Regenerate the shipped schema: ``python -m loquilex.protocol``."""

from pathlib import Path

from loquilex.protocol._schema import SCHEMA_FILE, render_event_schema

target = Path(__file__).with_name(SCHEMA_FILE)
target.write_text(render_event_schema(), encoding="utf-8")
print(f"wrote {target}")
