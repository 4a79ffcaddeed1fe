"""Configuration reaches the engine: file, environment, engine table."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrgate.config import load_settings
from ocrgate.engines.embedded import EmbeddedEngine
from ocrgate.service import build_engine


def test_toml_and_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "ocrgate.toml"
    cfg.write_text('port = 9001\napi_keys = ["sk-a"]\n[engine]\nintra_op_threads = 1\n')
    monkeypatch.setenv("OCRGATE_ALLOW_PRIVATE_URLS", "true")
    monkeypatch.setenv("OCRGATE_ENGINE_TEXT_SCORE", "0.7")
    s = load_settings(cfg)
    assert (s.port, s.api_keys, s.allow_private_urls) == (9001, ["sk-a"], True)
    assert (s.engine.intra_op_threads, s.engine.text_score) == (1, 0.7)


def test_unknown_key_is_an_error(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("prot = 1\n")
    with pytest.raises(ValueError, match="prot"):
        load_settings(cfg)


def test_engine_model_paths_reach_the_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A configured model path is used: a missing one fails at start naming the file."""
    missing = tmp_path / "det.onnx"
    monkeypatch.setenv("OCRGATE_ENGINE_DET_MODEL", str(missing))
    with pytest.raises((FileNotFoundError, RuntimeError), match="det.onnx"):
        build_engine(load_settings(data_dir=str(tmp_path)))


def test_formula_dir_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCRGATE_ENGINE_FORMULA_MODEL_DIR", str(tmp_path / "empty"))
    engine = build_engine(load_settings(data_dir=str(tmp_path)))
    assert isinstance(engine, EmbeddedEngine)
    assert "formula_recognition" in (engine.capabilities.notes or {})
    assert "formula_export" in engine.capabilities.notes["formula_recognition"]
