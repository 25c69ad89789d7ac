"""Logging is configured once, here, with ``dictConfig``: text for people, JSON lines for
machines. Modules only ever call ``logging.getLogger(__name__)``."""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import UTC, datetime
from typing import Any

__all__ = ["ClientFaultFilter", "JsonFormatter", "configure_logging"]

# Attributes every LogRecord has; anything else arrived through ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with ``extra=`` context fields kept."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS:
                entry[key] = value if isinstance(value, (str, int, float, bool)) else repr(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class ClientFaultFilter(logging.Filter):
    """A client's malformed frame is the client's fault, not a server error: uvicorn logs an
    invalid UTF-8 text frame with a traceback (and then closes the socket with 1007, which is
    all a client needs). Keep it as one warning line, so a log of server errors stays one."""

    _FAULTS = ("Invalid UTF-8 sequence received from client",)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR and str(record.msg).startswith(self._FAULTS):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.msg = f"{record.msg} (closed with 1007)"
            record.exc_info = record.exc_text = None
        return True


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send all logs to stderr (stdout belongs to CLI output such as ``--jsonl``)."""
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"format": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    logging.config.dictConfig(
        {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"main": formatter},
            "filters": {"client_faults": {"()": ClientFaultFilter}},
            "handlers": {
                "stderr": {
                    "class": "logging.StreamHandler",
                    "formatter": "main",
                    "stream": "ext://sys.stderr",
                }
            },
            "loggers": {
                "loquilex": {"level": level, "handlers": ["stderr"], "propagate": False},
                "uvicorn.error": {"filters": ["client_faults"]},
                "faster_whisper": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
            },
            "root": {"level": "WARNING", "handlers": ["stderr"]},
        }
    )
