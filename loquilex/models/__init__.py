"""Whisper models: the catalogue, the on-disk store (install/remove/default) and loading."""

from loquilex.models._catalog import CATALOG, ModelSpec
from loquilex.models._loader import (
    forget_model,
    load_configured,
    load_whisper,
    resolve_device,
    validate_model_dir,
)
from loquilex.models._store import ModelStatus, ModelStore, assemble_split_model

__all__ = [
    "CATALOG",
    "ModelSpec",
    "ModelStatus",
    "ModelStore",
    "assemble_split_model",
    "forget_model",
    "load_configured",
    "load_whisper",
    "resolve_device",
    "validate_model_dir",
]
