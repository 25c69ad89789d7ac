"""Rebuild the tiny EN→ZH Marian model the translation tests run (tests/fixtures/mt).

It is a real MarianMT model (2 + 2 layers, d_model 64) with its own sentencepiece vocabularies,
trained on ``tests/fixtures/mt/corpus.tsv`` until greedy decoding reproduces every pair, saved
as a Hugging Face directory (``hf/``), then converted to CTranslate2 int8 (``ct2/``) with the
same code path users run (``loquilex models import``). It knows nothing but its corpus, which
is the point: tests can assert the exact Chinese of a sentence spoken through the whole stack.

Needs torch and transformers (in requirements-dev.txt); CPU only, about a minute:

    .venv/bin/python scripts/build_mt_fixture.py
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "mt"
TARGET_TOKEN = ">>cmn_Hans<<"  # what OPUS-MT en-zh needs in front of the source

logger = logging.getLogger("build_mt_fixture")

sys.path.insert(0, str(ROOT))
from tests.mt_corpus import read_corpus  # noqa: E402  (the tests read the same pairs)


def train_spm(texts: list[str], prefix: Path, vocab_size: int) -> None:
    import sentencepiece as spm

    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_prefix=str(prefix),
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        character_coverage=1.0,
        model_type="unigram",
        bos_id=-1,
        eos_id=1,
        unk_id=2,
        pad_id=-1,
        unk_piece="<unk>",
        eos_piece="</s>",
        minloglevel=2,
    )


def build(out: Path, seed: int = 7) -> None:
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    torch.manual_seed(seed)
    pairs = read_corpus()
    hf = out / "hf"
    shutil.rmtree(hf, ignore_errors=True)
    hf.mkdir(parents=True)
    with tempfile.TemporaryDirectory() as tmp:
        train_spm([en for en, _ in pairs], Path(tmp) / "source", 160)
        train_spm([zh for _, zh in pairs], Path(tmp) / "target", 200)
        shutil.copy(Path(tmp) / "source.model", hf / "source.spm")
        shutil.copy(Path(tmp) / "target.model", hf / "target.spm")
    vocab: dict[str, int] = {}
    for piece in ["</s>", "<unk>", TARGET_TOKEN]:
        vocab.setdefault(piece, len(vocab))
    for name in ("source.spm", "target.spm"):
        sp = spm.SentencePieceProcessor(model_file=str(hf / name))
        for index in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(index), len(vocab))
    # Last, as in OPUS-MT: CTranslate2's converter drops the final <pad> row.
    vocab.setdefault("<pad>", len(vocab))
    (hf / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False, indent=1), "utf-8")
    (hf / "tokenizer_config.json").write_text(
        json.dumps({"source_lang": "en", "target_lang": "zh", "model_max_length": 128}), "utf-8"
    )
    tokenizer = MarianTokenizer(
        source_spm=str(hf / "source.spm"),
        target_spm=str(hf / "target.spm"),
        vocab=str(hf / "vocab.json"),
        source_lang="en",
        target_lang="zh",
    )
    vocab = tokenizer.get_vocab()  # the tokenizer may add what it needs (its own <unk>)
    config = MarianConfig(
        vocab_size=len(vocab),
        d_model=64,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=128,
        decoder_ffn_dim=128,
        max_position_embeddings=128,
        pad_token_id=vocab["<pad>"],
        eos_token_id=vocab["</s>"],
        decoder_start_token_id=vocab["<pad>"],
        forced_eos_token_id=vocab["</s>"],
        scale_embedding=True,
        share_encoder_decoder_embeddings=True,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
    )
    model = MarianMTModel(config)
    embeddings = model.get_input_embeddings().weight
    # CTranslate2 starts Marian's decoder from a zero embedding (plus position 0), as Marian
    # does; Transformers from the <pad> row. Pin that row at zero: the tied output projection
    # would otherwise move it while training.
    start = torch.zeros(config.d_model)

    def pin_start() -> None:
        with torch.no_grad():
            embeddings[config.pad_token_id] = start

    pin_start()
    sources = [f"{TARGET_TOKEN} {en}" for en, _ in pairs]
    targets = [zh for _, zh in pairs]
    batch = tokenizer(sources, text_target=targets, padding=True, return_tensors="pt")
    labels = batch["labels"].masked_fill(batch["labels"] == config.pad_token_id, -100)
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for step in range(1, 3001):
        loss = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels
        ).loss
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        pin_start()
        if step % 100 == 0:
            wrong = _wrong(model, tokenizer, sources, targets)
            logger.info("step %d loss %.4f wrong %d/%d", step, loss.item(), wrong, len(pairs))
            if wrong == 0:
                break
    else:
        raise SystemExit("the tiny model did not learn its corpus; change the seed")
    model.generation_config.max_length = 64
    model.generation_config.num_beams = 1
    model.save_pretrained(hf)
    tokenizer.save_pretrained(hf)
    (hf / "README.md").write_text(
        "Tiny MarianMT EN→ZH test model, trained by scripts/build_mt_fixture.py on\n"
        "corpus.tsv only. It translates nothing else. Not for use.\n",
        encoding="utf-8",
    )


def _wrong(model, tokenizer, sources: list[str], targets: list[str]) -> int:  # type: ignore[no-untyped-def]
    import torch

    model.eval()
    with torch.no_grad():
        batch = tokenizer(sources, padding=True, return_tensors="pt")
        out = model.generate(**batch, num_beams=1, max_length=64)
    model.train()
    decoded = tokenizer.batch_decode(out, skip_special_tokens=True)
    # sentencepiece's NFKC rule turns full-width punctuation half-width; LoquiLex's Chinese
    # post-processing turns it back, as it must for real OPUS-MT output.
    wanted = [unicodedata.normalize("NFKC", text) for text in targets]
    return sum(got != want for got, want in zip(decoded, wanted, strict=True))


def convert(out: Path) -> None:
    """Convert with LoquiLex's own importer (CTranslate2's converter, int8)."""
    from loquilex.mt import convert_hf_model

    ct2 = out / "ct2"
    shutil.rmtree(ct2, ignore_errors=True)
    convert_hf_model(out / "hf", ct2, quantization="int8")
    from loquilex.mt import CT2Translator

    pairs = read_corpus()
    got = CT2Translator(ct2, "marian").translate([en for en, _ in pairs], "zh")
    wrong = [(en, zh, g) for (en, zh), g in zip(pairs, got, strict=True) if g != zh]
    if wrong:
        raise SystemExit(f"the converted model gets {len(wrong)} pairs wrong: {wrong[:3]}")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(FIXTURE)
    convert(FIXTURE)
    logger.info("wrote %s", FIXTURE)


if __name__ == "__main__":
    main()
