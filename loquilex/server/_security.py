"""Local-server safety: Host and Origin allowlists, and the optional bearer token.

A browser page on another site can open a WebSocket to 127.0.0.1 (cross-site WebSocket
hijacking) and a rebinding DNS name can point at it (DNS rebinding). Both show up as a
foreign ``Origin`` or ``Host``; those requests get 403 before any session exists. Requests
without an ``Origin`` (scripts, curl) are allowed.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from loquilex.config import Settings

__all__ = ["bearer_token", "check_request", "token_ok"]

_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


#: A Host header: a DNS name, an IPv4 address or a bracketed IPv6 address, then an optional
#: port. Anything else (userinfo, paths, spaces, a second colon) is refused outright.
_HOST_RE = re.compile(
    r"(?P<name>\[[0-9a-f:.]+\]|[a-z0-9][a-z0-9.-]{0,252})(?::(?P<port>[0-9]{1,5}))?"
)


def _hostname(host_header: str) -> str | None:
    match = _HOST_RE.fullmatch(host_header.strip().lower())
    if match is None or (match["port"] is not None and int(match["port"]) > 65535):
        return None
    return match["name"]


def host_allowed(host_header: str | None, settings: Settings) -> bool:
    if not host_header:
        return False
    name = _hostname(host_header)
    if name is None:
        return False
    extra = {h.lower() for h in settings.server.allowed_hosts}
    return name in _LOCAL_HOSTS or name in extra


def origin_allowed(origin: str | None, settings: Settings) -> bool:
    if origin is None:
        return True
    if origin in settings.server.allowed_origins:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return False
    return (parts.hostname or "").lower() in {"localhost", "127.0.0.1", "::1"}


def check_request(
    method: str, headers: Mapping[str, str], settings: Settings, *, websocket: bool = False
) -> str | None:
    """The reason to refuse this request with 403, or None to let it through."""
    if not host_allowed(headers.get("host"), settings):
        return "Host not allowed"
    if (websocket or method in _STATE_CHANGING) and not origin_allowed(
        headers.get("origin"), settings
    ):
        return "Origin not allowed"
    return None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer …`` header, if any."""
    value = headers.get("authorization") or ""
    return value[7:].strip() if value.lower().startswith("bearer ") else None


def token_ok(settings: Settings, candidates: Iterable[str | None]) -> bool:
    """True when no token is configured, or one of ``candidates`` matches it. Compared as
    UTF-8 bytes, so a token with any characters is checked rather than raising."""
    expected = settings.server.token()
    if not expected:
        return True
    want = expected.encode("utf-8", "surrogateescape")
    return any(
        c is not None and hmac.compare_digest(c.encode("utf-8", "surrogateescape"), want)
        for c in candidates
    )
