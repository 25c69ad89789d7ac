"""The JSON Schema of every server event, generated from the models and shipped as a file."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from loquilex.protocol._events import server_event_adapter

__all__ = ["SCHEMA_FILE", "event_schema", "generate_event_schema"]

SCHEMA_FILE = "events.schema.json"


def generate_event_schema() -> dict[str, Any]:
    schema = server_event_adapter.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "LoquiLex server event"
    return schema


def render_event_schema() -> str:
    return json.dumps(generate_event_schema(), indent=2, sort_keys=True) + "\n"


@cache
def event_schema() -> dict[str, Any]:
    """The shipped schema file (kept equal to the generated one by a test)."""
    text = resources.files("loquilex.protocol").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data
