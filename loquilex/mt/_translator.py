"""Translators: a batch of English texts → texts in the target language.

Three backends behind one protocol:

- :class:`CT2Translator` (the default): a CTranslate2 model converted from Marian/OPUS-MT,
  M2M100 or NLLB, with its own sentencepiece models; the same runtime as the ASR.
- :class:`TransformersTranslator`: any Hugging Face seq2seq directory on torch, unconverted.
- :class:`ChatTranslator`: an OpenAI-compatible chat endpoint (llama.cpp, Ollama) that the user
  configured; never used otherwise, since it sends text to whatever that URL is.

All of them block: callers run them on the translation worker's thread, never the event loop.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from loquilex._priority import at_low_priority
from loquilex.errors import TranslationError
from loquilex.mt._catalog import FAMILY_LANGUAGES, LANGUAGE_NAMES, SOURCE_TOKENS, Family
from loquilex.mt._zh import is_chinese, polish_zh

__all__ = [
    "VOCABULARY_MAP",
    "CT2Translator",
    "ChatTranslator",
    "TransformersTranslator",
    "TranslationStopped",
    "Translator",
    "finish_text",
    "model_vocabulary",
    "offered_targets",
    "target_pieces",
    "write_vocabulary_map",
]

logger = logging.getLogger(__name__)


#: Output length cap, as a multiple of the source's token count (plus a few tokens): a
#: translation is never much longer than its source, and a runaway decode costs latency.
MAX_LENGTH_RATIO = 2.5
MAX_TOKENS = 256
#: CTranslate2 reads this file from a model directory: the target tokens the output layer
#: computes (``use_vmap``); every other token's score is skipped.
VOCABULARY_MAP = "vmap.txt"


class Translator(Protocol):
    """A loaded translation model. ``translate`` blocks; it is safe from one thread at a time."""

    name: str

    def languages(self) -> list[str]:
        """Target language codes this model can produce (LANGUAGE_NAMES keys)."""
        ...

    def translate(
        self,
        texts: Sequence[str],
        target_lang: str,
        *,
        draft: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """``draft``: a live partial's translation, to be replaced soon; a cheaper search
        (greedy) is good enough for it. ``stop``: polled while a draft decodes; once it
        returns true the draft is abandoned and :class:`TranslationStopped` raised, so that a
        final waiting behind it starts at once."""
        ...


class TranslationStopped(Exception):
    """A draft translation was abandoned because ``stop`` asked for it; not an error."""


def finish_text(text: str, target_lang: str) -> str:
    return (
        polish_zh(text, traditional=target_lang == "zh-Hant") if is_chinese(target_lang) else text
    )


def _max_length(tokens: int, ratio: float) -> int:
    return min(MAX_TOKENS, int(tokens * ratio) + 4)


def model_vocabulary(model_dir: Path) -> set[str]:
    """The target-side vocabulary of a CTranslate2 translation model directory."""
    for name in ("shared_vocabulary", "target_vocabulary"):
        path = model_dir / f"{name}.json"
        if path.is_file():
            return set(json.loads(path.read_text(encoding="utf-8")))
        path = model_dir / f"{name}.txt"
        if path.is_file():
            return set(path.read_text(encoding="utf-8").splitlines())
    return set()


def target_pieces(model_dir: Path, family: Family) -> list[str]:
    """The tokens a Marian model's decoder can write: the pieces of its target sentencepiece
    model that are in its vocabulary, with end of sentence and unknown. Empty for the other
    families, whose one sentencepiece model serves every language."""
    import sentencepiece as spm

    if family != "marian" or not (model_dir / "target.spm").is_file():
        return []
    vocabulary = model_vocabulary(model_dir)
    target = spm.SentencePieceProcessor(model_file=str(model_dir / "target.spm"))
    pieces = [target.id_to_piece(i) for i in range(target.get_piece_size())]
    return [
        p
        for p in dict.fromkeys([*pieces, "</s>", "<unk>"])
        if p in vocabulary and not any(c.isspace() for c in p)  # the map file's separators
    ]


def write_vocabulary_map(model_dir: Path, tokens: Sequence[str]) -> int:
    """Restrict a model's output to ``tokens`` (:data:`VOCABULARY_MAP`); how many it keeps.

    OPUS-MT's vocabulary is the source and target sentencepiece vocabularies together (65,001
    tokens for en-zh, two of 32k), but the decoder was only ever trained to write target
    pieces (:func:`target_pieces`), and only those decode back to text. Scoring just them
    halves the output layer, the largest part of each decoding step. Nothing is written for
    no tokens.
    """
    if not tokens:
        return 0
    # One line whose source side is empty: these candidates hold for every input.
    (model_dir / VOCABULARY_MAP).write_text("\t" + " ".join(tokens) + "\n", encoding="utf-8")
    return len(tokens)


class CT2Translator:
    """A CTranslate2 translation model with its sentencepiece tokenizers."""

    def __init__(
        self,
        model_dir: Path,
        family: Family,
        *,
        name: str = "",
        device: str = "cpu",
        compute_type: str = "int8",
        threads: int = 1,
        beam_size: int = 2,
        max_length_ratio: float = MAX_LENGTH_RATIO,
    ) -> None:
        import ctranslate2
        import sentencepiece as spm

        self.name = name or model_dir.name
        self.family = family
        self.beam_size = beam_size
        self.max_length_ratio = max_length_ratio
        if family == "marian":
            source, target = model_dir / "source.spm", model_dir / "target.spm"
        else:
            source = target = model_dir / "sentencepiece.bpe.model"
        missing = [p.name for p in (source, target) if not p.is_file()]
        if missing:
            raise TranslationError(
                f"{model_dir} has no {', '.join(sorted(set(missing)))}; import the model "
                "again from its Hugging Face directory"
            )
        try:
            self._source = spm.SentencePieceProcessor(model_file=str(source))
            self._target = spm.SentencePieceProcessor(model_file=str(target))
            self._model = at_low_priority(
                lambda: ctranslate2.Translator(
                    str(model_dir),
                    device=device,
                    compute_type=compute_type,
                    inter_threads=1,
                    intra_threads=threads,
                )
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise TranslationError(f"cannot load translation model {model_dir}: {exc}") from exc
        self._targets, self._needs_token = offered_targets(family, model_vocabulary(model_dir))
        self.uses_vocabulary_map = (model_dir / VOCABULARY_MAP).is_file()

    def languages(self) -> list[str]:
        return list(self._targets)

    def pieces(self, text: str) -> list[str]:
        """The source's sentencepiece pieces."""
        return list(self._source.encode(text, out_type=str))

    def max_length(self, sources: list[list[str]], texts: Sequence[str]) -> int:
        """The output cap for a batch: a ratio of its longest source."""
        return _max_length(max((len(s) for s in sources), default=1), self.max_length_ratio)

    def translate(
        self,
        texts: Sequence[str],
        target_lang: str,
        *,
        draft: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        token = self._targets.get(target_lang)
        if token is None:
            raise TranslationError(
                f"model {self.name} does not translate into {target_lang!r} "
                f"(it offers {', '.join(self._targets) or 'nothing'})"
            )
        sources = []
        for text in texts:
            pieces = self.pieces(text)
            if self.family == "marian":
                head = [token] if self._needs_token else []
            else:
                head = [SOURCE_TOKENS[self.family] or ""]
            sources.append([*head, *pieces, "</s>"])
        prefix = None if self.family == "marian" else [[token] for _ in sources]
        beam_size = 1 if draft else self.beam_size
        # CTranslate2 calls back after each greedy step; returning True ends the decode.
        watch = (lambda _step: stop()) if stop is not None and beam_size == 1 else None
        try:
            results = self._model.translate_batch(
                sources,
                target_prefix=prefix,
                beam_size=beam_size,
                max_decoding_length=self.max_length(sources, texts),
                callback=watch,
                use_vmap=self.uses_vocabulary_map,
            )
        except (RuntimeError, ValueError) as exc:
            raise TranslationError(f"translation failed: {exc}") from exc
        if watch is not None and stop is not None and stop():
            raise TranslationStopped
        out = []
        for result in results:
            tokens = [t for t in result.hypotheses[0] if t not in (token, "</s>", "<pad>")]
            out.append(finish_text(self._target.decode_pieces(tokens), target_lang))
        return out


def offered_targets(family: Family, vocabulary: set[str]) -> tuple[dict[str, str], bool]:
    """The target languages a model's vocabulary really has (code → its token), and whether
    the token must be given. A Marian model without ``>>xx<<`` tokens has one target, its own,
    taken to be ``zh`` (LoquiLex's catalogue has only EN→ZH Marian models)."""
    languages = FAMILY_LANGUAGES[family]
    if family == "marian" and not any(t.startswith(">>") and t.endswith("<<") for t in vocabulary):
        return {"zh": languages["zh"]}, False
    return {lang: tok for lang, tok in languages.items() if tok in vocabulary}, True


class TransformersTranslator:
    """A Hugging Face seq2seq model on torch, for users who do not convert."""

    def __init__(self, model_dir: Path, family: Family, *, name: str = "", threads: int = 1):
        try:
            import torch
            from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        except ImportError as exc:
            raise TranslationError(
                "the transformers backend needs `pip install torch==2.13.0 transformers`"
            ) from exc
        self.name = name or model_dir.name
        self.family = family
        self._torch = torch
        self._lock = threading.Lock()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
            self._model = AutoModelForSeq2SeqLM.from_pretrained(str(model_dir)).eval()
        except (OSError, ValueError) as exc:
            raise TranslationError(f"cannot load translation model {model_dir}: {exc}") from exc
        torch.set_num_threads(max(1, threads))
        self._targets, self._needs_token = offered_targets(family, set(self._tokenizer.get_vocab()))

    def languages(self) -> list[str]:
        return list(self._targets)

    def translate(
        self,
        texts: Sequence[str],
        target_lang: str,
        *,
        draft: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        kwargs: dict[str, Any] = {}
        token = self._targets.get(target_lang)
        if token is None:
            raise TranslationError(f"model {self.name} does not translate into {target_lang!r}")
        if stop is not None:
            kwargs["stopping_criteria"] = self._stopping(stop)
        if self.family == "marian":
            inputs = [f"{token} {t}" if self._needs_token else t for t in texts]
        else:
            inputs = list(texts)
            self._tokenizer.src_lang = SOURCE_TOKENS[self.family] if self.family == "nllb" else "en"
            kwargs["forced_bos_token_id"] = self._tokenizer.convert_tokens_to_ids(token)
        with self._lock, self._torch.inference_mode():
            batch = self._tokenizer(inputs, return_tensors="pt", padding=True)
            out = self._model.generate(
                **batch,
                num_beams=1 if draft else 2,
                max_new_tokens=_max_length(batch["input_ids"].shape[1], MAX_LENGTH_RATIO),
                **kwargs,
            )
        if stop is not None and stop():
            raise TranslationStopped
        decoded = self._tokenizer.batch_decode(out, skip_special_tokens=True)
        return [finish_text(text, target_lang) for text in decoded]

    def _stopping(self, stop: Callable[[], bool]) -> Any:
        """A ``generate`` stopping criterion that ends every sequence once ``stop()``."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        torch = self._torch

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                return torch.full((input_ids.shape[0],), stop(), dtype=torch.bool)

        return StoppingCriteriaList([_Stop()])


class ChatTranslator:
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint the user configured."""

    def __init__(
        self, url: str, model: str, *, api_key: str | None = None, timeout_s: float = 30.0
    ) -> None:
        import httpx

        self.name = f"chat:{model}"
        self._model = model
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout_s)

    def languages(self) -> list[str]:
        return list(LANGUAGE_NAMES)

    def translate(
        self,
        texts: Sequence[str],
        target_lang: str,
        *,
        draft: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> list[str]:
        """A request cannot be stopped half-way; ``stop`` is checked between texts."""
        import httpx

        language = LANGUAGE_NAMES.get(target_lang, target_lang)
        out = []
        for text in texts:
            if stop is not None and stop():
                raise TranslationStopped
            body = {
                "model": self._model,
                "temperature": 0,
                "messages": [
                    {
                        "role": "system",
                        "content": f"Translate the user's English text into {language}. "
                        "Reply with the translation only.",
                    },
                    {"role": "user", "content": text},
                ],
            }
            try:
                response = self._client.post("/v1/chat/completions", json=body)
                response.raise_for_status()
                reply = response.json()["choices"][0]["message"]["content"]
            except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
                raise TranslationError(f"the chat endpoint failed: {exc}") from exc
            out.append(finish_text(str(reply), target_lang))
        return out
