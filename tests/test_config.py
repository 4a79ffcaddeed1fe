"""Configuration reaches the engine: file, environment, engine table."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocrgate.config import load_settings
from ocrgate.engines.embedded import EmbeddedEngine
from ocrgate.engines.factory import build_registry


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
        build_registry(load_settings(data_dir=str(tmp_path)))


def test_formula_dir_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCRGATE_ENGINE_FORMULA_MODEL_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("OCRGATE_ENGINE_DISABLED_TASKS", "table_parsing,document_parsing")
    engine = build_registry(load_settings(data_dir=str(tmp_path))).engines["embedded"]
    assert isinstance(engine, EmbeddedEngine)
    assert engine.settings.disabled_tasks == ["table_parsing", "document_parsing"]
    assert "formula_recognition" in (engine.capabilities.notes or {})
    assert "ocrgate models install" in engine.capabilities.notes["formula_recognition"]


def test_default_engine_and_its_legacy_spelling(tmp_path: Path) -> None:
    cfg = tmp_path / "ocrgate.toml"
    cfg.write_text('[engine]\nname = "gpu"\ntext_score = 0.6\n[engines.gpu]\nkind = "remote"\n'
                   'base_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n')
    s = load_settings(cfg)
    assert (s.default_engine, s.engine.text_score) == ("gpu", 0.6)
    cfg.write_text('default_engine = "embedded"\n[engine]\ndisabled_tasks = ["multi_lan"]\n')
    s = load_settings(cfg)
    assert (s.default_engine, s.engine.disabled_tasks) == ("embedded", ["multi_lan"])


def test_team_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "team.toml"
    cfg.write_text('admin_keys = ["sha256:' + "ab" * 32 + '"]\nlog_format = "json"\n'
                   '[prices."qwen-vl-ocr-latest"]\noutput = 0.001\n'
                   '[prices."my-alias"]\ninput = 1.0\noutput = 2.0\n'
                   '[rate_limits."qwen-vl-ocr"]\nrpm = 30\n')
    monkeypatch.setenv("OCRGATE_DATABASE_URL", "postgresql://ocr@db/ocrgate")
    monkeypatch.setenv("OCRGATE_API_KEYS", "sk-one, sk-two")
    monkeypatch.setenv("OCRGATE_RATE_LIMITING", "false")
    s = load_settings(cfg)
    assert s.database_url == "postgresql://ocr@db/ocrgate"
    assert s.api_keys == ["sk-one", "sk-two"] and not s.rate_limiting
    assert s.prices["qwen-vl-ocr-latest"] == {"input": 0.0003, "output": 0.001}  # merged over §9.2
    assert s.prices["my-alias"] == {"input": 1.0, "output": 2.0}
    assert s.rate_limits["qwen-vl-ocr"] == {"rpm": 30, "tpm": 6_000_000}
    assert s.rate_limits["qwen-vl-ocr-latest"] == {"rpm": 1200, "tpm": 6_000_000}
    assert s.log_format == "json" and s.batch_price_ratio == 0.5


def test_bad_price_table_in_file(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[prices."qwen-vl-ocr"]\ninput = "cheap"\n')
    with pytest.raises(ValueError, match="prices.qwen-vl-ocr.input"):
        load_settings(cfg)
