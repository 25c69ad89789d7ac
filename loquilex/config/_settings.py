"""The one ``Settings`` object and the layering that builds it.

Layers, later wins: built-in defaults → ``LX_*`` environment variables (nested with ``__``,
e.g. ``LX_ASR__BEAM_SIZE=2``) → a TOML profile file → CLI flags / request bodies.
:func:`load_settings` also returns where each effective value came from, which is what
``loquilex config show`` prints.
"""

from __future__ import annotations

import enum
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from loquilex.config._stream import StreamConfig
from loquilex.errors import ConfigError

__all__ = [
    "AsrSettings",
    "Layer",
    "MTSettings",
    "ServerSettings",
    "Settings",
    "load_settings",
]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "loquilex"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "loquilex"


class AsrSettings(BaseModel):
    """How Whisper is loaded and run."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None,
        description="Model id or local directory; unset means the default set with "
        "`loquilex models set-default` (tiny.en out of the box).",
    )
    device: Literal["cpu", "cuda", "auto"] = "cpu"
    compute_type: str = Field(default="int8", description="CTranslate2 compute type.")
    cpu_threads: int = Field(
        default=1, ge=0, description="Threads per decode (0 lets CTranslate2 choose)."
    )
    workers: int = Field(
        default=2, ge=1, le=16, description="Model replicas: decodes that can run at once."
    )
    beam_size: int = Field(default=5, ge=1, le=10, description="Beam for batch/final decodes.")
    language: str = "en"


class ServerSettings(BaseModel):
    """The HTTP/WebSocket server."""

    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    allowed_origins: list[str] = Field(
        default_factory=list, description="Extra Origins allowed besides localhost ones."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Extra Host names allowed besides localhost ones."
    )
    max_sessions: int = Field(default=8, ge=1)
    max_frame_bytes: int = Field(default=1 << 20, ge=1024, description="Largest WebSocket frame.")
    subscriber_queue: int = Field(default=100, ge=10, description="Events buffered per client.")
    socket_send_buffer: int = Field(
        default=128 * 1024, ge=4096, description="Kernel send buffer per connection (bytes)."
    )
    replay_events: int = Field(default=1000, ge=10)
    replay_age_s: float = Field(default=300.0, gt=0)
    resume_grace_s: float = Field(
        default=30.0, ge=0, description="How long a session waits for its dropped sender."
    )
    idle_timeout_s: float = Field(
        default=60.0,
        gt=0,
        description="A push session whose sender never connects ends after this long.",
    )
    ended_retention_s: float = Field(
        default=300.0,
        ge=0,
        description="How long an ended session stays in memory (its transcript stays on disk).",
    )
    max_backlog_s: float = Field(
        default=30.0,
        gt=0,
        description="Audio a session may hold waiting for transcription; more is refused "
        "with RATE_LIMITED.",
    )
    max_audio_rate: float = Field(
        default=3.0,
        gt=0,
        description="Audio seconds per second one connection may send, sustained.",
    )
    audio_burst_s: float = Field(
        default=30.0,
        gt=0,
        description="Audio one connection may send at once above that rate (a resumed "
        "client catching up).",
    )
    max_chunks_per_s: float = Field(
        default=100.0, gt=0, description="Audio frames per second per connection."
    )
    max_streams_per_client: int = Field(
        default=4, ge=1, description="Sessions one client address may send audio to at once."
    )
    max_connections: int = Field(default=256, ge=1, description="Open WebSockets, in all.")
    ws_ping_interval_s: float = Field(
        default=20.0, gt=0, description="Keepalive ping on every WebSocket this often."
    )
    ws_ping_timeout_s: float = Field(
        default=20.0,
        gt=0,
        description="A WebSocket that does not answer a ping within this long is closed "
        "(a half-open socket is gone within interval + timeout).",
    )
    ws_compression: bool = Field(
        default=False,
        description="Offer permessage-deflate to WebSocket clients. Off: compressing every "
        "event once per viewer costs the server more CPU than small caption events save.",
    )
    max_unauthenticated: int = Field(
        default=16, ge=1, description="WebSockets waiting to authenticate, in all."
    )
    media_dir: Path | None = Field(
        default=None,
        description="Directory file sessions created over the API may read from; unset "
        "means the API takes no file sessions.",
    )
    auth_token: SecretStr | None = Field(default=None, description="Optional bearer token.")
    max_upload_mb: float = Field(
        default=25.0,
        gt=0,
        le=4096,
        description="Largest file POST /v1/audio/transcriptions takes (MB); more is a 413.",
    )
    max_queued_transcriptions: int = Field(
        default=4,
        ge=1,
        description="File transcriptions waiting for the one that runs; more get a 429.",
    )

    def token(self) -> str | None:
        """The bearer token in clear, for comparison only."""
        return self.auth_token.get_secret_value() if self.auth_token else None


class ClusterSettings(BaseModel):
    """Cluster mode on Redis Streams (docs/scaling.md): off unless ``redis_url`` is set."""

    model_config = ConfigDict(extra="forbid")

    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://[user:password@]host:port/db; turns cluster mode on. Secret: "
        "never logged or shown.",
    )
    node_url: str | None = Field(
        default=None,
        description="This node's URL as other nodes and clients reach it (default: "
        "http://HOST:PORT as the server listens).",
    )
    node_id: str | None = Field(
        default=None, max_length=64, description="A stable node name (default: random)."
    )
    capacity: int | None = Field(
        default=None,
        ge=1,
        description="Sessions placed here at most (default: server.max_sessions).",
    )
    transcript_retention_s: float = Field(
        default=7 * 86400,
        gt=0,
        description="How long Redis keeps an ended session's finals and record (its own node "
        "keeps the transcript file regardless).",
    )
    heartbeat_s: float = Field(default=1.0, gt=0, description="How often a node says it is alive.")
    ttl_s: float = Field(
        default=5.0,
        gt=0,
        description="A node silent this long is dead: its sessions end with an ERROR on every "
        "node within this time.",
    )

    def url(self) -> str | None:
        """The Redis URL in clear, for connecting only."""
        return self.redis_url.get_secret_value() if self.redis_url else None


class MTSettings(BaseModel):
    """Machine translation (SPEC §7). Nothing is downloaded unless `models install` is run."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(
        default=None,
        max_length=100,
        description="Installed translation model id (default: opus-mt-en-zh if installed, "
        "else the first installed).",
    )
    device: Literal["cpu", "cuda"] = "cpu"
    threads: int = Field(
        default=1, ge=1, le=16, description="Threads per translation; the ASR keeps the rest."
    )
    min_new_words: int = Field(
        default=3, ge=1, le=50, description="New words before a partial is translated again."
    )
    debounce_s: float = Field(
        default=0.5, ge=0, le=10, description="Least time between two partial translations."
    )
    pause_s: float = Field(
        default=0.8, gt=0, le=10, description="A partial unchanged this long is translated."
    )
    chat_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint (a local llama.cpp or Ollama server) to "
        "translate with instead of a local model; off unless set.",
    )
    chat_model: str = Field(default="", description="Model name sent to chat_url.")
    chat_api_key: SecretStr | None = Field(default=None, description="Bearer key for chat_url.")


class ConversationConfig(BaseModel):
    """Speakers, turns, semantics and prosody (SPEC §10)."""

    model_config = ConfigDict(extra="forbid")

    diarize: bool = Field(
        default=True,
        description="Attribute finals to speakers by default (when the voice encoder is "
        "installed); sessions may say otherwise.",
    )
    speaker_threshold: float = Field(
        default=0.72,
        ge=0.3,
        le=0.99,
        description="Cosine similarity to a known voice at which a final joins it.",
    )
    max_speakers: int = Field(default=8, ge=1, le=32)
    speaker_pitch_gap_st: float = Field(
        default=6.0,
        ge=0,
        le=24,
        description="A final this many semitones from a known speaker's pitch is not "
        "theirs, however alike the voices sound to the encoder; 0: pitch is not used.",
    )
    context_turns: int = Field(
        default=20, ge=1, le=1000, description="Turns kept in the rolling context."
    )
    context_s: float = Field(
        default=300.0, gt=0, description="Seconds of audio the rolling context spans."
    )
    risk_lexicon: dict[str, list[str]] | None = Field(
        default=None,
        description="Risk tag → phrases, replacing the default lexicon (escalation, "
        "cancellation, legal, complaint).",
    )


class Settings(BaseSettings):
    """Effective process settings. Per-session settings are passed to constructors, never here."""

    model_config = SettingsConfigDict(
        env_prefix="LX_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(default_factory=_default_data_dir)
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    asr: AsrSettings = Field(default_factory=AsrSettings)
    stream: StreamConfig = Field(default_factory=StreamConfig)
    server: ServerSettings = Field(default_factory=ServerSettings)
    mt: MTSettings = Field(default_factory=MTSettings)
    conversation: ConversationConfig = Field(default_factory=ConversationConfig)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)


class Layer(enum.StrEnum):
    """Where an effective value came from."""

    DEFAULT = "default"
    ENV = "env"
    PROFILE = "profile"
    FLAG = "flag"


def _leaves(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    out: dict[tuple[str, ...], Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_leaves(value, (*prefix, key)))
        else:
            out[(*prefix, key)] = value
    return out


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_profile(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"profile file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"profile {path} is not valid TOML: {exc}") from exc


def load_settings(
    profile: Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> tuple[Settings, dict[str, Layer]]:
    """Build the effective settings and the layer each leaf value came from.

    ``overrides`` are CLI flags or request-body values, nested like the settings
    (``{"asr": {"model": "base"}}``); ``None`` values are treated as "not given".
    """
    flags = _prune_none(overrides or {})
    profile_data = _read_profile(profile) if profile else {}
    try:
        # Environment is read by the settings source; profile and flags arrive as init
        # kwargs, which pydantic-settings ranks above the environment.
        settings = Settings(**_deep_merge(profile_data, flags))
        env_data = EnvSettingsSource(Settings)()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from exc

    provenance: dict[str, Layer] = {}
    flag_leaves, profile_leaves, env_leaves = (
        _leaves(flags),
        _leaves(profile_data),
        _leaves(env_data),
    )
    for path in _leaves(settings.model_dump()):
        if _covered(path, flag_leaves):
            layer = Layer.FLAG
        elif _covered(path, profile_leaves):
            layer = Layer.PROFILE
        elif _covered(path, env_leaves):
            layer = Layer.ENV
        else:
            layer = Layer.DEFAULT
        provenance[".".join(path)] = layer
    return settings, provenance


def _covered(path: tuple[str, ...], leaves: dict[tuple[str, ...], Any]) -> bool:
    return any(path[: len(leaf)] == leaf for leaf in leaves)


def _prune_none(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            pruned = _prune_none(value)
            if pruned:
                out[key] = pruned
        elif value is not None:
            out[key] = value
    return out
