"""Process settings: one ``Settings`` object, layered defaults → env → profile → flags."""

from loquilex.config._settings import (
    AsrSettings,
    Layer,
    ServerSettings,
    Settings,
    StreamSettings,
    load_settings,
)

__all__ = [
    "AsrSettings",
    "Layer",
    "ServerSettings",
    "Settings",
    "StreamSettings",
    "load_settings",
]
