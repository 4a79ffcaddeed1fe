"""What ``ocrgate batch`` reads: files, folders (recursively) and globs, expanded into pages —
every page of a PDF, every frame of a multi-frame TIFF, one page per other image.

A page is handed over as a small standalone encoded image: a PDF page as a one-page PDF
(rendered later, where it is read), a TIFF frame as a PNG, any other image as its own bytes.
"""

from __future__ import annotations

import functools
import glob
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from ..images.pdf import is_pdf, page_count, single_page

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".heic",
                            ".heif", ".pdf"})
"""What a folder is searched for (a file named on the command line is always tried)."""
TIFF_SUFFIXES = frozenset({".tif", ".tiff"})
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Source:
    path: Path
    """Absolute."""
    name: str
    """Relative to the folder it was found in (or the file's name): where its outputs go."""
    size: int
    mtime_ns: int
    pages: int
    kind: str
    """``pdf``, ``tiff`` or ``image``."""
    error: str | None = None
    """Why the file cannot be read at all (one error record stands for it)."""

    def key(self, index: int, task: str, model: str) -> str:
        """Identifies one page's result: a changed file (size, mtime) or other options are
        new work."""
        return json.dumps([str(self.path), self.size, self.mtime_ns, index, task, model])


@dataclass(frozen=True)
class Page:
    source: Source
    index: int
    """From 0."""


def _found(path: Path, root: Path | None) -> tuple[Path, str]:
    name = str(path.relative_to(root)) if root is not None else path.name
    return path.resolve(), name


def expand(inputs: Iterable[str]) -> tuple[list[tuple[Path, str]], list[str]]:
    """(absolute path, output name) of every file, in order, without repeats; and the inputs
    that matched nothing."""
    found: list[tuple[Path, str]] = []
    missing: list[str] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            found += [_found(p, path) for p in sorted(path.rglob("*"))
                      if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        elif path.is_file():
            found.append(_found(path, None))
        elif _GLOB_CHARS & set(item):
            matches = sorted(Path(m) for m in glob.glob(os.path.expanduser(item), recursive=True))
            files = [_found(m, None) for m in matches if m.is_file()]
            found += files
            if not files:
                missing.append(item)
        else:
            missing.append(item)
    seen: set[Path] = set()
    unique = []
    names: set[str] = set()
    for path, name in found:
        if path in seen:
            continue
        seen.add(path)
        if name in names:  # two inputs with one name: keep both outputs apart
            name = f"{path.parent.name}/{name}" if f"{path.parent.name}/{name}" not in names \
                else str(path).lstrip("/")
        names.add(name)
        unique.append((path, name))
    return unique, missing


def open_source(path: Path, name: str) -> Source:
    stat = path.stat()
    kind, pages, error = "image", 1, None
    try:
        with path.open("rb") as fh:
            head = fh.read(1024)
        if is_pdf(head):
            kind, pages = "pdf", page_count(path.read_bytes())
        elif path.suffix.lower() in TIFF_SUFFIXES:
            kind = "tiff"
            with Image.open(path) as im:
                pages = int(getattr(im, "n_frames", 1))
    except Exception as exc:  # noqa: BLE001 - reported for this file; the others go on
        error = f"{type(exc).__name__}: {exc}"
    if pages < 1:
        error, pages = "the document has no pages", 1
    return Source(path, name, stat.st_size, stat.st_mtime_ns, pages, kind, error)


@functools.lru_cache(maxsize=2)
def _read(path: Path, mtime_ns: int) -> bytes:
    """The file's bytes, kept for the next pages of the same file."""
    return path.read_bytes()


def page_bytes(page: Page) -> tuple[bytes, str]:
    """(encoded bytes, MIME type) of one page, standalone."""
    source = page.source
    data = _read(source.path, source.mtime_ns)
    if source.kind == "pdf":
        return single_page(data, page.index), "application/pdf"
    if source.kind == "tiff" and source.pages > 1:
        with Image.open(io.BytesIO(data)) as im:
            im.seek(page.index)
            frame = im.convert("RGB") if im.mode not in ("RGB", "L") else im.copy()
        buf = io.BytesIO()
        frame.save(buf, format="PNG", compress_level=1)
        return buf.getvalue(), "image/png"
    return data, _mime(source.path)


def _mime(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    return {"jpg": "image/jpeg", "tif": "image/tiff", "heic": "image/heic",
            "heif": "image/heif"}.get(suffix, f"image/{suffix or 'png'}")
