"""`loquilex doctor` reports what it finds and fails when something required is broken."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import CliRunner

pytestmark = pytest.mark.model


def test_doctor_healthy_machine(cli: CliRunner) -> None:
    proc = cli("doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    for label in (
        "] python:",
        "] faster-whisper:",
        "] ctranslate2:",
        "] cpu:",
        "] cuda:",
        "] audio input:",
        "] model tiny.en (default):",
        "] data dir:",
        "] cache dir:",
    ):
        assert label in out, label
    assert "[  ok] default model: tiny.en loads and transcribes 1 s of audio" in out
    assert "[  ok] speaker encoder: " in out and "pretrained.pt loads and embeds 1 s" in out
    assert "FAIL" not in out
    assert out.rstrip().endswith("all required checks passed")


def test_doctor_fails_on_unwritable_cache_dir(data_dir: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    import os
    import subprocess

    from tests.conftest import loquilex_bin

    env = {**os.environ, "LX_CACHE_DIR": str(blocker / "cache")}
    proc2 = subprocess.run(
        [loquilex_bin(), "doctor"], capture_output=True, text=True, env=env, check=False
    )
    assert proc2.returncode == 1
    assert "[FAIL] cache dir:" in proc2.stdout
    assert "1 check(s) failed" in proc2.stdout


def test_doctor_fails_on_broken_default_model(cli: CliRunner, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "default_model").write_text(str(data_dir / "no-such-model") + "\n")
    proc = cli("doctor")
    assert proc.returncode == 1
    assert "[FAIL] default model:" in proc.stdout
