"""Settings layering (defaults → env → profile → flags) and `config show` provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loquilex.config import Layer, load_settings
from loquilex.errors import ConfigError


def test_layers_later_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LX_ASR__BEAM_SIZE", "2")
    monkeypatch.setenv("LX_ASR__LANGUAGE", "de")
    monkeypatch.setenv("LX_SERVER__PORT", "9001")
    profile = tmp_path / "p.toml"
    profile.write_text('[asr]\nlanguage = "fr"\nmodel = "base"\n[server]\nport = 9002\n')
    settings, prov = load_settings(profile, {"server": {"port": 9003}, "asr": {"device": None}})
    assert settings.asr.beam_size == 2 and prov["asr.beam_size"] is Layer.ENV
    assert settings.asr.language == "fr" and prov["asr.language"] is Layer.PROFILE
    assert settings.asr.model == "base" and prov["asr.model"] is Layer.PROFILE
    assert settings.server.port == 9003 and prov["server.port"] is Layer.FLAG
    assert settings.asr.device == "cpu" and prov["asr.device"] is Layer.DEFAULT


def test_invalid_values_are_config_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LX_ASR__BEAM_SIZE", "99")
    with pytest.raises(ConfigError, match=r"asr\.beam_size"):
        load_settings()
    monkeypatch.delenv("LX_ASR__BEAM_SIZE")
    bad = tmp_path / "bad.toml"
    bad.write_text("[asr\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[asr]\nbogus = 1\n")
    with pytest.raises(ConfigError, match=r"asr\.bogus"):
        load_settings(unknown)


def test_config_show_reports_sources(tmp_path: Path) -> None:
    profile = tmp_path / "p.toml"
    profile.write_text('log_format = "json"\n[stream]\nfinal_beam = 4\n')
    import os
    import subprocess

    from tests.conftest import loquilex_bin

    env = {**os.environ, "LX_ASR__BEAM_SIZE": "3", "LX_DATA_DIR": str(tmp_path / "d")}
    proc = subprocess.run(
        [
            loquilex_bin(),
            "--profile",
            str(profile),
            "--log-level",
            "WARNING",
            "config",
            "show",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    shown = json.loads(proc.stdout)
    assert shown["asr.beam_size"] == {"value": 3, "source": "env"}
    assert shown["stream.final_beam"] == {"value": 4, "source": "profile"}
    assert shown["log_format"] == {"value": "json", "source": "profile"}
    assert shown["log_level"] == {"value": "WARNING", "source": "flag"}
    assert shown["server.host"] == {"value": "127.0.0.1", "source": "default"}

    text = subprocess.run(
        [loquilex_bin(), "--profile", str(profile), "config", "show"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    ).stdout
    assert any(
        line.startswith("asr.beam_size") and "env LX_ASR__BEAM_SIZE" in line
        for line in text.splitlines()
    )


def test_stream_settings_and_session_overrides_share_one_declaration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from loquilex.config import StreamConfig
    from loquilex.session import SessionConfig, StreamOverrides

    assert set(StreamOverrides.model_fields) == set(StreamConfig.model_fields)
    monkeypatch.setenv("LX_STREAM__VAD", "energy")
    monkeypatch.setenv("LX_STREAM__EOU_SILENCE_S", "0.8")
    settings, _ = load_settings()
    assert isinstance(settings.stream, StreamConfig)
    assert settings.stream.vad == "energy" and settings.stream.eou_silence_s == 0.8
    session = SessionConfig.model_validate({"stream": {"vad": "silero", "final_beam": 3}})
    merged = settings.stream.with_overrides(session.stream)
    assert (merged.vad, merged.final_beam, merged.eou_silence_s) == ("silero", 3, 0.8)
    # The same bounds apply to a session's overrides as to the settings.
    for bad in ({"vad_threshold": 1.5}, {"vad": "webrtc"}, {"no_such_knob": 1}):
        with pytest.raises(ValidationError):
            SessionConfig.model_validate({"stream": bad})
    with pytest.raises(ConfigError):
        load_settings(overrides={"stream": {"max_segment_s": 100}})
