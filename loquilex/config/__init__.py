"""Process settings: one ``Settings`` object, layered defaults → env → profile → flags."""

from loquilex.config._settings import (
    AsrSettings,
    ClusterSettings,
    ConversationConfig,
    Layer,
    MTSettings,
    ServerSettings,
    Settings,
    load_settings,
)
from loquilex.config._stream import EouReason, StreamConfig, VadKind, stream_overrides_model

__all__ = [
    "AsrSettings",
    "ClusterSettings",
    "ConversationConfig",
    "EouReason",
    "Layer",
    "MTSettings",
    "ServerSettings",
    "Settings",
    "StreamConfig",
    "VadKind",
    "load_settings",
    "stream_overrides_model",
]
