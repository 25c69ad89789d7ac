"""Translation models LoquiLex knows how to install, and the language codes of each family."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FAMILY_LANGUAGES", "LANGUAGE_NAMES", "MT_CATALOG", "Family", "MTSpec"]

Family = Literal["marian", "m2m100", "nllb"]

#: The languages LoquiLex offers as targets: code → English name (for pickers).
LANGUAGE_NAMES = {
    "zh": "Chinese (Simplified)",
    "zh-Hant": "Chinese (Traditional)",
    "ja": "Japanese",
    "ko": "Korean",
    "fr": "French",
    "de": "German",
    "es": "Spanish",
}

#: Per family: our language code → the model's own target token.
FAMILY_LANGUAGES: dict[Family, dict[str, str]] = {
    # OPUS-MT en-zh is multi-target: a ">>cmn_Hans<<" token in front of the source picks one.
    "marian": {"zh": ">>cmn_Hans<<", "zh-Hant": ">>cmn_Hant<<"},
    "m2m100": {
        "zh": "__zh__",
        "ja": "__ja__",
        "ko": "__ko__",
        "fr": "__fr__",
        "de": "__de__",
        "es": "__es__",
    },
    "nllb": {
        "zh": "zho_Hans",
        "zh-Hant": "zho_Hant",
        "ja": "jpn_Jpan",
        "ko": "kor_Hang",
        "fr": "fra_Latn",
        "de": "deu_Latn",
        "es": "spa_Latn",
    },
}
#: The model's token for English sources (Marian models are single-source and need none).
SOURCE_TOKENS: dict[Family, str | None] = {"marian": None, "m2m100": "__en__", "nllb": "eng_Latn"}


@dataclass(frozen=True, slots=True)
class MTSpec:
    """One installable model.

    Attributes:
      id: what users type (``opus-mt-en-zh``).
      family: how it tokenises and picks its target language.
      repo: the Hugging Face repository ``models install`` downloads (only when asked).
      license: its licence; ``commercial`` is False where it forbids commercial use.
      params_m: parameters, in millions.
    """

    id: str
    family: Family
    repo: str
    license: str
    commercial: bool
    params_m: int
    recommended: bool = False


MT_CATALOG: dict[str, MTSpec] = {
    spec.id: spec
    for spec in (
        MTSpec(
            "opus-mt-en-zh",
            "marian",
            "Helsinki-NLP/opus-mt-en-zh",
            "CC-BY-4.0",
            True,
            77,
            recommended=True,
        ),
        MTSpec("m2m100_418M", "m2m100", "facebook/m2m100_418M", "MIT", True, 418),
        MTSpec(
            "nllb-200-distilled-600M",
            "nllb",
            "facebook/nllb-200-distilled-600M",
            "CC-BY-NC-4.0",
            False,
            600,
        ),
    )
}
