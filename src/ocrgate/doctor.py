"""``ocrgate doctor``: what this installation can serve, and the one command that fixes each gap.

It reads the configuration like ``ocrgate serve`` does, then checks, without loading a
model: the embedded engine's model files (where each was found and its sha256 against
the pinned one), the formula files (against their manifest), Tesseract and its
traineddata, the optional extras, and from those each task of each configured engine.
Everything missing is printed with its fix, and the fixes once more at the end. The exit
status is 1 when a task of a configured engine is not ready, else 0.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .config import LocalVlmConfig, RemoteConfig, Settings, load_settings
from .engines.embedded.handlers.multilang.reader import FOREIGN, JAPANESE, VIETNAMESE
from .engines.embedded.nets import files
from .engines.embedded.settings import EmbeddedSettings
from .tasks.catalog import Task

#: what each embedded task needs beyond the text reader (det, rec, orientation)
TASK_NEEDS: dict[Task, tuple[str, ...]] = {
    Task.TEXT_RECOGNITION: (),
    Task.ADVANCED_RECOGNITION: (),
    Task.KEY_INFORMATION_EXTRACTION: (),
    Task.TABLE_PARSING: ("table",),
    Task.DOCUMENT_PARSING: ("layout",),
    Task.MULTI_LAN: ("tesseract",),
    Task.FORMULA_RECOGNITION: ("formula",),
}
READER = ("det", "rec", "orientation")
EXTRAS = {"vlm": ("torch", "transformers"), "ray": ("ray",), "test": ("pytest", "openai")}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None



def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def model_check(m: files.ModelFile, s: EmbeddedSettings) -> Check:
    configured = getattr(s, f"{m.key}_model")
    path, where = files.locate(m, configured)
    source = f"{m.package} {m.version}"
    if not path.is_file():
        return Check(m.key, False, f"{m.what} model: {path} missing", files.missing_fix(m, where))
    digest = files.sha256(path)
    if where in ("cache", "installed wheel") and digest != m.sha256:
        return Check(m.key, False, f"{m.what}: {path} sha256 {digest[:12]}… is not {source}'s "
                     f"{m.sha256[:12]}…", files.INSTALL_COMMAND)
    return Check(m.key, True, f"{m.filename:<26} {source:<25} sha256 {digest[:12]}…  {where}"
                 + ("" if where == "cache" else f" ({path})"))


def formula_checks(s: EmbeddedSettings) -> tuple[Path, list[Check]]:
    folder = files.formula_dir(s.formula_model_dir)
    missing = files.missing_formula_files(folder)
    if missing:
        return folder, [Check("formula", False, f"missing in {folder}: {', '.join(missing)}",
                              files.INSTALL_COMMAND)]
    try:
        entries = json.loads((folder / "manifest.json").read_text()).get("files") or {}
    except ValueError:
        entries = {}
    checks = []
    for name in sorted(set(files.FORMULA_FILES) - {"manifest.json"} | set(entries)):
        path = folder / name
        want = str((entries.get(name) or {}).get("sha256") or "")
        if not path.is_file():
            checks.append(Check(name, False, "missing", files.INSTALL_COMMAND))
            continue
        digest = files.sha256(path)
        ok = digest == want
        checks.append(Check(name, ok, f"sha256 {digest[:12]}…"
                            + ("" if ok else f" differs from the manifest's {want[:12] or 'none'}…"),
                            None if ok else files.INSTALL_COMMAND))
    return folder, checks


def tesseract_check(s: EmbeddedSettings) -> Check:
    required = (*FOREIGN, VIETNAMESE[0])
    packages = {**{m: pkg for m, (_, pkg) in FOREIGN.items()}, VIETNAMESE[0]: VIETNAMESE[2]}
    version = _version("tesserocr")
    if version is None or importlib.util.find_spec("tesserocr") is None:
        return Check("tesseract", False, "tesserocr is not installed", "pip install tesserocr")
    folder = files.tessdata_dir(required, s.tessdata)
    if folder is not None:
        langs = sorted(p.name.removesuffix(".traineddata") for p in folder.glob("*.traineddata"))
        extra = "" if JAPANESE[0] in langs else f" (optional {JAPANESE[0]} absent: {JAPANESE[2]})"
        return Check("tesseract", True,
                     f"tesserocr {version}, {folder}: {' '.join(langs)}{extra}")
    env = os.environ.get(files.TESSDATA_ENV)
    candidates = [s.tessdata] if s.tessdata else ([env] if env else list(files.TESSDATA_DIRS))
    best = max(candidates, key=lambda d: sum((Path(d) / f"{m}.traineddata").is_file()
                                             for m in required))
    lacking = [m for m in required if not (Path(best) / f"{m}.traineddata").is_file()]
    return Check("tesseract", False, f"tesserocr {version}; traineddata missing in {best}: "
                 f"{' '.join(lacking)}",
                 "apt-get install " + " ".join(packages[m] for m in lacking))


def extra_checks() -> list[Check]:
    out = []
    for extra, dists in EXTRAS.items():
        found = {d: _version(d) for d in dists}
        ok = all(found.values())
        detail = ", ".join(f"{d} {v or 'not installed'}" for d, v in found.items())
        out.append(Check(f"[{extra}]", ok, detail, None if ok else f"pip install 'ocrgate[{extra}]'"))
    return out


@dataclass
class Report:
    models: list[Check]
    formula_dir: Path
    formula: list[Check]
    tesseract: Check
    extras: list[Check]
    tasks: dict[str, list[Check]]


def embedded_tasks(s: EmbeddedSettings, have: dict[str, Check]) -> list[Check]:
    out = []
    for task, needs in TASK_NEEDS.items():
        if task.value in s.disabled_tasks:
            out.append(Check(task.value, False, "disabled in the configuration (disabled_tasks)"))
            continue
        gaps = [have[n] for n in (*READER, *needs) if not have[n].ok]
        detail = (f"needs {' '.join(g.name for g in gaps)} (see above)" if gaps
                  else "uses " + " ".join((*READER, *needs)))
        out.append(Check(task.value, not gaps, detail, next((g.fix for g in gaps if g.fix), None)))
    return out


def vlm_tasks(cfg: LocalVlmConfig | RemoteConfig) -> list[Check]:
    tasks = getattr(cfg, "tasks", None) or [t.value for t in Task]
    if isinstance(cfg, RemoteConfig):
        return [Check(t, True, f"remote {cfg.base_url} (not contacted)") for t in tasks]
    gap, fix = None, None
    if not (_version("torch") and _version("transformers")) and not _version("vllm"):
        gap, fix = "torch and transformers are not installed", "pip install 'ocrgate[vlm]'"
    elif not (Path(cfg.model_path) / "config.json").is_file():
        gap, fix = f"no checkpoint at {cfg.model_path!r}", "set model_path to a checkpoint folder"
    return [Check(t, gap is None, gap or f"local {cfg.model_path}", fix) for t in tasks]


def diagnose(settings: Settings) -> Report:
    s = settings.engine
    models = [model_check(m, s) for m in files.MODEL_FILES]
    folder, formula = formula_checks(s)
    tess = tesseract_check(s)
    have = {c.name: c for c in models}
    have["tesseract"] = tess
    bad = [c for c in formula if not c.ok]
    have["formula"] = Check("formula", not bad, str(folder), bad[0].fix if bad else None)
    referenced = {settings.default_engine, *(e for t in settings.routes.values() for e in t.values())}
    tasks: dict[str, list[Check]] = {}
    for name, cfg in {"embedded": s, **settings.engines}.items():
        if isinstance(cfg, EmbeddedSettings):
            if name == "embedded" and name not in referenced:
                continue  # built only when the default or a route names it
            tasks[name] = embedded_tasks(cfg, have)
        elif isinstance(cfg, LocalVlmConfig | RemoteConfig):
            tasks[name] = vlm_tasks(cfg)
    return Report(models, folder, formula, tess, extra_checks(), tasks)


def _line(c: Check, width: int = 12, indent: int = 2, bad: str = "MISSING") -> str:
    status = "ok" if c.ok else bad
    fix = f"\n{'':<{indent + 8 + width}}fix: {c.fix}" if c.fix and not c.ok else ""
    return f"{'':<{indent}}{status:<8}{c.name:<{width}}{c.detail}{fix}"


def render(report: Report, settings: Settings, config: str | None) -> str:
    home_src = f"${files.HOME_ENV}" if os.environ.get(files.HOME_ENV) else "default"
    out = [f"ocrgate {__version__} · Python {sys.version.split()[0]} · {sys.executable}",
           f"config: {config or 'defaults (no --config, no $OCRGATE_CONFIG)'}",
           f"model cache: {files.models_dir()} ({home_src})", "", "model files"]
    out += [_line(c) for c in report.models]
    out += ["", f"formula files ({report.formula_dir})"]
    out += [_line(c, 20) for c in report.formula]
    out += ["", "tesseract (multi_lan)", _line(report.tesseract), "", "optional extras"]
    out += [_line(c, bad="absent") for c in report.extras]
    out += ["", "tasks"]
    for engine, checks in report.tasks.items():
        default = " (default)" if engine == settings.default_engine else ""
        out.append(f"  engine {engine}{default}")
        out += [_line(c, 28, indent=4, bad="no") for c in checks]
    fixes = list(dict.fromkeys(c.fix for cs in report.tasks.values() for c in cs
                               if not c.ok and c.fix))
    ready = sum(c.ok for cs in report.tasks.values() for c in cs)
    total = sum(len(cs) for cs in report.tasks.values())
    out += ["", f"{ready}/{total} tasks ready"]
    if fixes:
        out += ["to fix:"] + [f"  {f}" for f in fixes]
    return "\n".join(out)


def all_ready(report: Report) -> bool:
    return all(c.ok for cs in report.tasks.values() for c in cs
               if "disabled in the configuration" not in c.detail)


def cmd_doctor(args: argparse.Namespace) -> int:
    config = args.config or os.environ.get("OCRGATE_CONFIG")
    settings = load_settings(args.config)
    report = diagnose(settings)
    print(render(report, settings, config))
    return 0 if all_ready(report) else 1


def register(sub: Any) -> None:
    doctor = sub.add_parser("doctor", help="what is installed and ready, and how to fix the rest")
    doctor.set_defaults(func=cmd_doctor)
