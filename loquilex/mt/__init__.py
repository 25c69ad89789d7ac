"""Machine translation: models (catalogue, store, import/install), translators, and the live
translation worker that turns a session's captions into TRANSLATION events."""

from loquilex.mt._catalog import LANGUAGE_NAMES, MT_CATALOG, MTSpec
from loquilex.mt._live import CadenceSettings
from loquilex.mt._store import (
    CHAT_MODEL_ID,
    InstalledMT,
    MTStore,
    convert_hf_model,
    detect_family,
    open_translator,
)
from loquilex.mt._translator import (
    ChatTranslator,
    CT2Translator,
    TransformersTranslator,
    TranslationStopped,
    Translator,
    finish_text,
)
from loquilex.mt._zh import polish_zh

__all__ = [
    "CHAT_MODEL_ID",
    "LANGUAGE_NAMES",
    "MT_CATALOG",
    "CT2Translator",
    "CadenceSettings",
    "ChatTranslator",
    "InstalledMT",
    "MTSpec",
    "MTStore",
    "TransformersTranslator",
    "TranslationStopped",
    "Translator",
    "convert_hf_model",
    "detect_family",
    "finish_text",
    "open_translator",
    "polish_zh",
]
