"""Translation models on disk: ``DATA_DIR/mt/ID``, each with a ``loquilex-mt.json`` manifest.

Two ways in, both explicit:

- ``import_dir``: a local Hugging Face directory (converted to CTranslate2 int8 with
  CTranslate2's own converter, or kept as is for the transformers backend) or an already
  converted CTranslate2 directory. Fully offline.
- ``install``: download a catalogue model from the Hugging Face hub (``HF_ENDPOINT`` is
  honoured), then import it. The only code in LoquiLex that downloads anything, and it runs
  only when the user asks.

Every model is loaded and made to translate once before it is recorded as installed, and the
manifest says where it came from.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from loquilex.config import MTSettings
from loquilex.errors import ModelInstallError, ModelNotFoundError, TranslationError
from loquilex.mt._catalog import MT_CATALOG, Family
from loquilex.mt._translator import (
    VOCABULARY_MAP,
    ChatTranslator,
    CT2Translator,
    TransformersTranslator,
    Translator,
    target_pieces,
    write_vocabulary_map,
)

__all__ = [
    "CHAT_MODEL_ID",
    "MANIFEST",
    "InstalledMT",
    "MTStore",
    "convert_hf_model",
    "detect_family",
    "open_translator",
]

logger = logging.getLogger(__name__)

MANIFEST = "loquilex-mt.json"
#: The model id that selects the configured OpenAI-compatible chat endpoint.
CHAT_MODEL_ID = "chat"
Backend = Literal["ctranslate2", "transformers"]

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
#: Tokenizer and config files a model directory needs besides its weights.
TOKENIZER_FILES = (
    "source.spm",
    "target.spm",
    "sentencepiece.bpe.model",
    "vocab.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "generation_config.json",
)
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True, slots=True)
class InstalledMT:
    """One installed translation model."""

    id: str
    family: Family
    backend: Backend
    path: Path
    languages: tuple[str, ...]
    license: str = "unknown"
    commercial: bool | None = None
    source: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "family": self.family,
            "backend": self.backend,
            "path": str(self.path),
            "languages": list(self.languages),
            "license": self.license,
            "commercial": self.commercial,
            "source": self.source,
        }


def detect_family(model_dir: Path) -> Family:
    """Marian, M2M100 or NLLB, from a Hugging Face config or a CTranslate2 directory's files."""
    config = _read_json(model_dir / "config.json")
    tokenizer = _read_json(model_dir / "tokenizer_config.json")
    model_type = str(config.get("model_type", ""))
    if model_type == "marian" or (model_dir / "source.spm").is_file():
        return "marian"
    if model_type == "m2m_100" or (model_dir / "sentencepiece.bpe.model").is_file():
        if "nllb" in str(tokenizer.get("tokenizer_class", "")).lower():
            return "nllb"
        from loquilex.mt._translator import model_vocabulary

        return "nllb" if "zho_Hans" in model_vocabulary(model_dir) else "m2m100"
    raise ModelInstallError(
        f"{model_dir} is not a Marian (OPUS-MT), M2M100 or NLLB model directory"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ModelInstallError(f"{path} is not readable JSON") from exc
    return data if isinstance(data, dict) else {}


def convert_hf_model(hf_dir: Path, out: Path, *, quantization: str = "int8") -> Path:
    """Convert a Hugging Face translation model with CTranslate2's converter (needs torch and
    transformers), copying its tokenizer files beside the converted weights."""
    try:
        from ctranslate2.converters import TransformersConverter
    except ImportError as exc:  # pragma: no cover - ctranslate2 is a core dependency
        raise ModelInstallError("CTranslate2's converter is missing") from exc
    copy = [name for name in TOKENIZER_FILES if (hf_dir / name).is_file()]
    try:
        TransformersConverter(str(hf_dir), copy_files=copy).convert(
            str(out), quantization=quantization, force=True
        )
    except ImportError as exc:
        raise ModelInstallError(
            "converting a Hugging Face model needs torch and transformers: "
            "`pip install torch==2.13.0 transformers`; or import a CTranslate2 directory"
        ) from exc
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ModelInstallError(f"CTranslate2 could not convert {hf_dir}: {exc}") from exc
    return out


class MTStore:
    """Installed translation models under ``data_dir/mt``."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "mt"

    # -- lookup --------------------------------------------------------------------------
    def installed(self) -> list[InstalledMT]:
        if not self.root.is_dir():
            return []
        found = []
        for manifest in sorted(self.root.glob(f"*/{MANIFEST}")):
            try:
                found.append(self._from_manifest(manifest.parent))
            except (ModelInstallError, KeyError, TypeError, ValueError):
                logger.warning("ignoring damaged translation model %s", manifest.parent)
        return found

    def get(self, model_id: str | None = None) -> InstalledMT:
        """An installed model by id; without one the recommended, else the first installed."""
        installed = {m.id: m for m in self.installed()}
        if model_id is None:
            if not installed:
                raise ModelNotFoundError(
                    "no translation model is installed: run "
                    "`loquilex models install opus-mt-en-zh` (downloads it once), or "
                    "`loquilex models import DIR` for a model you already have"
                )
            preferred = [i for i, spec in MT_CATALOG.items() if spec.recommended]
            chosen = next(i for i in (*preferred, *installed) if i in installed)
            return installed[chosen]
        model = installed.get(model_id)
        if model is None:
            hint = (
                f"loquilex models install {model_id}"
                if model_id in MT_CATALOG
                else "loquilex models import DIR"
            )
            raise ModelNotFoundError(
                f"translation model {model_id!r} is not installed: run `{hint}`"
            )
        return model

    def _from_manifest(self, path: Path) -> InstalledMT:
        data = _read_json(path / MANIFEST)
        return InstalledMT(
            id=str(data["id"]),
            family=data["family"],
            backend=data["backend"],
            path=path,
            languages=tuple(data["languages"]),
            license=str(data.get("license", "unknown")),
            commercial=data.get("commercial"),
            source=dict(data.get("source", {})),
        )

    # -- loading -------------------------------------------------------------------------
    @staticmethod
    def load(model: InstalledMT, *, threads: int = 1, device: str = "cpu") -> Translator:
        if model.backend == "transformers":
            return TransformersTranslator(model.path, model.family, name=model.id, threads=threads)
        if not (model.path / VOCABULARY_MAP).is_file():
            # Imported before the map existed (or just converted): write it once.
            try:
                kept = write_vocabulary_map(model.path, target_pieces(model.path, model.family))
            except (OSError, RuntimeError) as exc:  # a read-only store; a broken target.spm
                logger.warning("cannot write %s for %s: %s", VOCABULARY_MAP, model.id, exc)
            else:
                if kept:
                    logger.info("%s: output restricted to its %d target tokens", model.id, kept)
        return CT2Translator(
            model.path, model.family, name=model.id, device=device, threads=threads
        )

    # -- import / install / remove -------------------------------------------------------
    def import_dir(
        self,
        src: Path,
        model_id: str | None = None,
        *,
        backend: Backend = "ctranslate2",
        source: dict[str, Any] | None = None,
    ) -> InstalledMT:
        """Copy (or convert) a local model directory into the store, check that it
        translates, and record it."""
        src = src.expanduser().resolve()
        if not src.is_dir():
            raise ModelInstallError(f"{src} is not a directory")
        model_id = model_id or src.name
        if not _ID.match(model_id):
            raise ModelInstallError(f"{model_id!r} is not a usable model id (letters, digits, ._-)")
        family = detect_family(src)
        is_ct2 = (src / "model.bin").is_file()
        if is_ct2 and backend == "transformers":
            raise ModelInstallError(f"{src} is a CTranslate2 model; use the ctranslate2 backend")
        dest = self.root / model_id
        tmp = self.root / f".{model_id}.partial"
        shutil.rmtree(tmp, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            if is_ct2 or backend == "transformers":
                shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(MANIFEST, ".*"))
            else:
                convert_hf_model(src, tmp)
            spec = MT_CATALOG.get(model_id)
            draft = InstalledMT(model_id, family, backend, tmp, ())
            translator = self._check(draft)
            record = {
                "id": model_id,
                "family": family,
                "backend": backend,
                "languages": translator.languages(),
                "license": spec.license if spec else "unknown",
                "commercial": spec.commercial if spec else None,
                "source": {
                    **(source or {"imported_from": str(src)}),
                    "converted": not is_ct2 and backend == "ctranslate2",
                    "installed": time.time(),
                },
            }
            (tmp / MANIFEST).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
            shutil.rmtree(dest, ignore_errors=True)
            tmp.rename(dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        logger.info("installed translation model %s (%s, %s)", model_id, family, backend)
        return self._from_manifest(dest)

    def _check(self, model: InstalledMT) -> Translator:
        try:
            translator = self.load(model)
            languages = translator.languages()
            if not languages:
                raise ModelInstallError(f"{model.path} offers none of LoquiLex's target languages")
            out = translator.translate(["Hello."], languages[0])
        except TranslationError as exc:
            raise ModelInstallError(f"the model does not load or translate: {exc}") from exc
        if len(out) != 1:
            raise ModelInstallError("the model returned no translation for a test sentence")
        return translator

    def install(self, model_id: str, *, endpoint: str | None = None) -> InstalledMT:
        """Download a catalogue model from the Hugging Face hub and import it."""
        spec = MT_CATALOG.get(model_id)
        if spec is None:
            raise ModelNotFoundError(
                f"unknown translation model {model_id!r}: use one of {', '.join(MT_CATALOG)}, "
                "or `loquilex models import DIR`"
            )
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import HfHubHTTPError

        download = self.root / f".{model_id}.download"
        shutil.rmtree(download, ignore_errors=True)
        try:
            api = HfApi(endpoint=endpoint)
            info = api.model_info(spec.repo)
            files = {s.rfilename for s in info.siblings or ()}
            weights = next((w for w in _WEIGHTS if w in files), None)
            if weights is None or "config.json" not in files:
                raise ModelInstallError(f"{spec.repo} has no config.json or weights to convert")
            wanted = ["config.json", *(f for f in TOKENIZER_FILES if f in files), weights]
            for name in wanted:
                logger.info("downloading %s/%s", spec.repo, name)
                hf_hub_download(
                    spec.repo,
                    name,
                    revision=info.sha,
                    local_dir=download,
                    endpoint=endpoint,
                )
            source = {
                "repo": spec.repo,
                "revision": info.sha,
                "endpoint": endpoint or api.endpoint,
                "files": wanted,
            }
            return self.import_dir(download, model_id, source=source)
        except (HfHubHTTPError, OSError) as exc:
            raise ModelInstallError(f"downloading {spec.repo} failed: {exc}") from exc
        finally:
            shutil.rmtree(download, ignore_errors=True)

    def remove(self, model_id: str) -> None:
        model = self.get(model_id)
        shutil.rmtree(model.path)


def open_translator(store: MTStore, settings: MTSettings, model_id: str | None) -> Translator:
    """Load the translator a session asked for (blocking: call it off the event loop).

    ``chat`` (or no id, when no model is installed and ``mt.chat_url`` is set) is the
    configured chat endpoint; anything else an installed model.
    """
    model_id = model_id or settings.model
    wants_chat = model_id == CHAT_MODEL_ID or (
        model_id is None and settings.chat_url and not store.installed()
    )
    if wants_chat:
        if not settings.chat_url:
            raise ModelNotFoundError(
                "translation model 'chat' needs LX_MT__CHAT_URL (an OpenAI-compatible endpoint)"
            )
        key = settings.chat_api_key.get_secret_value() if settings.chat_api_key else None
        return ChatTranslator(settings.chat_url, settings.chat_model, api_key=key)
    model = store.get(model_id)
    try:
        return store.load(model, threads=settings.threads, device=settings.device)
    except TranslationError as exc:
        raise ModelInstallError(f"translation model {model.id} does not load: {exc}") from exc
