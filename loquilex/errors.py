"""LoquiLex's exception hierarchy.

Every error a user can cause or meet derives from :class:`LoquiLexError`. Library errors
(PyAV, CTranslate2, pip) are translated at the boundary with ``raise ... from exc`` so that the
CLI and the server can show one clean line while the logs keep the traceback.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AsrFailure",
    "AudioDecodeError",
    "AudioFormatError",
    "AudioSourceError",
    "CliError",
    "ConfigError",
    "DeviceBusyError",
    "DevsetError",
    "InvalidMessage",
    "LoquiLexError",
    "MisdirectedError",
    "ModelError",
    "ModelInstallError",
    "ModelNotFoundError",
    "NotFoundError",
    "NotSenderError",
    "RateLimitedError",
    "SequenceError",
    "SessionError",
    "SessionLimitError",
    "SessionNotFoundError",
    "TranscriptFormatError",
    "TranslationError",
    "UnsupportedError",
]


class LoquiLexError(Exception):
    """Base class: the message is safe to show to a user as one line."""


class ConfigError(LoquiLexError):
    """A settings value or profile file is invalid."""


class AudioDecodeError(LoquiLexError):
    """An audio file is missing, unreadable, truncated or not audio at all."""


class AudioFormatError(LoquiLexError):
    """Audio frames arrived in a format we cannot interpret (odd byte count, bad rate...)."""


class ModelError(LoquiLexError):
    """A model directory exists but cannot be loaded."""


class ModelNotFoundError(ModelError):
    """A model id is unknown, or known but not installed."""


class ModelInstallError(ModelError):
    """Installing or assembling a model failed."""


class TranslationError(LoquiLexError):
    """A translation model failed to load or to translate."""


class SessionError(LoquiLexError):
    """A session cannot do what was asked of it."""


class NotFoundError(LoquiLexError):
    """The thing asked for does not exist (HTTP 404)."""


class MisdirectedError(SessionError):
    """The session runs on another node of the cluster: control it, or send its audio,
    there (HTTP 421, with the owner's URL)."""

    def __init__(self, message: str, *, owner_url: str, node_id: str) -> None:
        super().__init__(message)
        self.owner_url = owner_url
        self.node_id = node_id


class SessionNotFoundError(SessionError, NotFoundError):
    """No session with that id (HTTP 404)."""


class RateLimitedError(SessionError):
    """A client sends faster, or holds more, than the server's limits allow
    (``RATE_LIMITED``, HTTP 429). ``details`` go to the client with the error."""

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.details = details


class SessionLimitError(RateLimitedError):
    """The server already runs as many sessions as it may (HTTP 429)."""


class DeviceBusyError(SessionError):
    """The requested capture device is used by another session (HTTP 409)."""


class SequenceError(SessionError):
    """An audio chunk's sequence number went backwards or repeated (``SEQUENCE_ERROR``)."""


class UnsupportedError(SessionError):
    """The request asks for something this installation cannot do (HTTP 422)."""


class NotSenderError(SessionError):
    """A connection that only views a session tried to send its audio or end it
    (``UNAUTHORIZED``)."""


class AudioSourceError(LoquiLexError):
    """A source cannot deliver audio (no microphone, no PortAudio, closed push source)."""


class AsrFailure(LoquiLexError):
    """Recognition failed inside the worker; the stream is over."""


class InvalidMessage(LoquiLexError):
    """A client message that cannot be used; answered with ``INVALID_MESSAGE``."""

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details = details or {}


class TranscriptFormatError(LoquiLexError):
    """A transcript JSON file does not have the expected shape."""


class DevsetError(LoquiLexError):
    """A dev-set source could not be fetched or did not match its checksum."""


class CliError(Exception):
    """A command-line usage problem found after parsing; printed as one line, exit status 2.
    (Not a LoquiLexError: those are failures, exit status 1.)"""
