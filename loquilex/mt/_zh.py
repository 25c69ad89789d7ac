"""Chinese text as readers expect it: full-width punctuation, no spaces between CJK
characters, and Simplified characters unless Traditional was asked for.

Tokenizers normalise text with NFKC, which turns ``，`` into ``,`` and ``？`` into ``?``, and
sentencepiece puts spaces where pieces met. Every Chinese translation passes through
:func:`polish_zh` before anyone sees it.
"""

from __future__ import annotations

import re
from functools import lru_cache

__all__ = ["is_chinese", "polish_zh"]

_CJK = r"\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_HALF_TO_FULL = str.maketrans(
    {",": "，", ".": "。", "?": "？", "!": "！", ":": "：", ";": "；", "(": "（", ")": "）"}
)
# A half-width mark that follows a CJK character (or closes the text after one): "好,".
_MARK_AFTER_CJK = re.compile(rf"(?<=[{_CJK}])\s*([,.?!:;)])(?!\d)")
_OPEN_BEFORE_CJK = re.compile(rf"\(\s*(?=[{_CJK}])")
_SPACE_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}])\s+(?=[{_CJK}])")


@lru_cache(maxsize=2)
def _converter(config: str):  # type: ignore[no-untyped-def]
    from opencc import OpenCC  # type: ignore[import-untyped]

    return OpenCC(config)


def is_chinese(lang: str) -> bool:
    return lang.lower().split("-")[0] in {"zh", "cmn", "zho", "yue"}


def polish_zh(text: str, *, traditional: bool = False) -> str:
    """Full-width punctuation after Chinese, no spaces between CJK, one script."""
    text = text.strip()
    text = _OPEN_BEFORE_CJK.sub("（", text)
    text = _MARK_AFTER_CJK.sub(lambda m: m.group(1).translate(_HALF_TO_FULL), text)
    text = _SPACE_BETWEEN_CJK.sub("", text)
    # A space left next to full-width punctuation is never wanted either.
    text = re.sub(r"\s*([，。？！：；（）])\s*", r"\1", text)
    return str(_converter("s2t" if traditional else "t2s").convert(text))
