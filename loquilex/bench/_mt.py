"""Translation models with random weights and real architectures, for speed benchmarks.

Speed does not depend on the weights, and no real EN→ZH model can be downloaded here, so
``bench stream --translate --mt-arch ARCH`` builds one from the published configuration,
converts it to CTranslate2 int8 with the same converter users run, and caches it. Random
weights rarely emit end-of-sentence, so every decode runs to the output cap; the bench feeds
:data:`TOKENS_PER_WORD` source tokens per English word and caps the output at
:data:`BENCH_LENGTH_RATIO` × that, about what real EN→ZH output takes, which makes the figures
a realistic upper bound.

Needs torch and transformers (requirements-dev.txt).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loquilex.mt import CT2Translator, convert_hf_model
from loquilex.mt._translator import (
    VOCABULARY_MAP,
    model_vocabulary,
    target_pieces,
    write_vocabulary_map,
)

__all__ = ["ARCHITECTURES", "BENCH_LENGTH_RATIO", "random_translator"]

logger = logging.getLogger(__name__)

BENCH_LENGTH_RATIO = 1.3
TOKENS_PER_WORD = 1.3
_TOKENIZER_FILES = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "mt" / "hf"


@dataclass(frozen=True, slots=True)
class Architecture:
    """Published sizes of a translation model (its config.json on the hub)."""

    family: str
    d_model: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    activation: str
    params_m: int
    #: Tokens of the target sentencepiece model, where the family has one of its own.
    target_pieces: int = 0


ARCHITECTURES: dict[str, Architecture] = {
    # Helsinki-NLP/opus-mt-en-zh: MarianMT, 6 + 6 layers, d_model 512, 65001 tokens; its
    # model card: "SentencePiece (spm32k,spm32k)", so 32,000 of them are target pieces.
    "opus-mt-en-zh": Architecture("marian", 512, 6, 8, 2048, 65001, "swish", 77, 32000),
    # facebook/nllb-200-distilled-600M: M2M100 architecture, 12 + 12 layers, d_model 1024.
    "nllb-200-distilled-600M": Architecture("nllb", 1024, 12, 16, 4096, 256206, "relu", 600),
}


def _sizes(arch: Architecture) -> dict[str, Any]:
    """The transformer sizes, as Transformers' encoder-decoder configs name them."""
    return {
        "d_model": arch.d_model,
        "encoder_layers": arch.layers,
        "decoder_layers": arch.layers,
        "encoder_attention_heads": arch.heads,
        "decoder_attention_heads": arch.heads,
        "encoder_ffn_dim": arch.ffn,
        "decoder_ffn_dim": arch.ffn,
        "activation_function": arch.activation,
    }


def _vocab(size: int, specials: list[str]) -> dict[str, int]:
    """The fixture's sentencepiece pieces, then filler tokens up to the real size."""
    import sentencepiece as spm

    vocab: dict[str, int] = {}
    for piece in specials:
        vocab.setdefault(piece, len(vocab))
    for name in ("source.spm", "target.spm"):
        sp = spm.SentencePieceProcessor(model_file=str(_TOKENIZER_FILES / name))
        for index in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(index), len(vocab))
    filler = 0
    while len(vocab) < size - 1:
        vocab.setdefault(f"▁x{filler}", len(vocab))
        filler += 1
    return vocab


def _build_marian(arch: Architecture, hf: Path) -> None:
    from transformers import MarianConfig, MarianMTModel

    vocab = _vocab(arch.vocab, ["</s>", "<unk>", ">>cmn_Hans<<"])
    vocab["<pad>"] = len(vocab)  # last, as in OPUS-MT
    for name in ("source.spm", "target.spm"):
        shutil.copy(_TOKENIZER_FILES / name, hf / name)
    (hf / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (hf / "tokenizer_config.json").write_text(
        json.dumps({"source_lang": "en", "target_lang": "zh"}), encoding="utf-8"
    )
    config = MarianConfig(
        vocab_size=len(vocab),
        **_sizes(arch),
        max_position_embeddings=512,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["</s>"],
        decoder_start_token_id=vocab["<pad>"],
        scale_embedding=True,
    )
    MarianMTModel(config).save_pretrained(hf)


def _build_m2m100(arch: Architecture, hf: Path) -> None:
    """An M2M100-architecture model (NLLB's too) with the language tokens of its family."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration

    # The fixture's sentencepiece model; the vocabulary adds the language codes the
    # translator uses and is padded to the real size.
    shutil.copy(_TOKENIZER_FILES / "source.spm", hf / "sentencepiece.bpe.model")
    codes = ["eng_Latn", "zho_Hans"] if arch.family == "nllb" else ["__en__", "__zh__"]
    specials = ["<s>", "<pad>", "</s>", "<unk>", *codes]
    vocab = _vocab(arch.vocab + 1, specials)
    (hf / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    config = M2M100Config(
        vocab_size=len(vocab),
        **_sizes(arch),
        max_position_embeddings=1024,
        pad_token_id=vocab["<pad>"],
        bos_token_id=vocab["<s>"],
        eos_token_id=vocab["</s>"],
        decoder_start_token_id=vocab["</s>"],
        scale_embedding=True,
    )
    M2M100ForConditionalGeneration(config).save_pretrained(hf)


def _convert_m2m100(hf: Path, out: Path) -> None:
    """CTranslate2's M2M100 loader wants a tokenizer it can load; write the model spec from the
    Hugging Face weights with a vocabulary list instead."""
    from ctranslate2.converters.transformers import M2M100Loader
    from transformers import M2M100ForConditionalGeneration

    model = M2M100ForConditionalGeneration.from_pretrained(str(hf))
    vocab = json.loads((hf / "vocab.json").read_text(encoding="utf-8"))
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    loader = M2M100Loader()
    spec = loader.get_model_spec(model)
    spec.config.bos_token = "<s>"
    spec.config.eos_token = "</s>"
    spec.config.unk_token = "<unk>"
    spec.config.decoder_start_token = "</s>"
    spec.register_source_vocabulary(tokens)
    spec.register_target_vocabulary(tokens)
    spec.validate()
    spec.optimize(quantization="int8")
    out.mkdir(parents=True, exist_ok=True)
    spec.save(str(out))
    shutil.copy(hf / "sentencepiece.bpe.model", out / "sentencepiece.bpe.model")


def _write_vocabulary_map(arch: Architecture, out: Path) -> None:
    """The map the product writes for this family, filled up to the real model's number of
    target pieces (the fixture's target sentencepiece model is small), so the output layer
    costs what the real one's does."""
    (out / VOCABULARY_MAP).unlink(missing_ok=True)
    keep = target_pieces(out, arch.family)  # type: ignore[arg-type]
    if keep:
        fillers = sorted(t for t in model_vocabulary(out) if t.startswith("▁x"))
        write_vocabulary_map(out, keep + fillers[: max(0, arch.target_pieces - len(keep))])


class _RandomWeights(CT2Translator):
    """The real runtime and sizes; source lengths and the output cap as the real model's.

    The test vocabulary would cut unseen English into single letters, so each word becomes
    :data:`TOKENS_PER_WORD` vocabulary tokens (about what OPUS-MT's and NLLB's
    sentencepiece models make of English), and the output is capped at
    :data:`BENCH_LENGTH_RATIO` × that, which random weights always reach.
    """

    def pieces(self, text: str) -> list[str]:
        count = max(1, round(len(text.split()) * TOKENS_PER_WORD))
        return [f"▁x{index % 1000}" for index in range(count)]

    def max_length(self, sources: list[list[str]], texts: Sequence[str]) -> int:
        longest = max((len(s) - 2 for s in sources), default=1)
        return int(longest * BENCH_LENGTH_RATIO) + 2


def random_translator(arch_id: str, cache_dir: Path, *, threads: int = 1) -> CT2Translator:
    """A CTranslate2 int8 translator of ``arch_id``'s real size with random weights."""
    arch = ARCHITECTURES[arch_id]
    out = cache_dir / "bench-mt" / arch_id
    if not (out / "model.bin").is_file():
        logger.info(
            "building a random-weight %s (%d M parameters) for the bench", arch_id, arch.params_m
        )
        shutil.rmtree(out, ignore_errors=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            hf = Path(tmp)
            if arch.family == "marian":
                _build_marian(arch, hf)
                convert_hf_model(hf, out, quantization="int8")
            else:
                _build_m2m100(arch, hf)
                _convert_m2m100(hf, out)
    _write_vocabulary_map(arch, out)
    family: Any = arch.family
    return _RandomWeights(out, family, name=f"{arch_id} (random weights)", threads=threads)
