"""Logging configuration: JSON lines keep extra= context."""

from __future__ import annotations

import json
import logging

import pytest

from loquilex.logs import configure_logging


def test_json_lines_with_context(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", "json")
    try:
        logging.getLogger("loquilex.test").info("hello %s", "there", extra={"session_id": "abc"})
        logging.getLogger("loquilex.test").debug("hidden")
    finally:
        configure_logging("WARNING", "text")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert len(lines) == 1
    assert lines[0]["message"] == "hello there"
    assert lines[0]["session_id"] == "abc"
    assert lines[0]["level"] == "INFO" and lines[0]["logger"] == "loquilex.test"
