"""``ocrgate batch`` results: the state log that makes a run resumable, the per-file outputs
(text, JSON, HTML or LaTeX by task) and the one ``results.jsonl``.

The state log (``<out>/.ocrgate-batch/state.jsonl``) gets one line per finished page,
flushed and fsync'd before the next page is counted, so an interrupted run loses at most
the pages in flight; a re-run skips every page with a result (a page that failed is tried
again). A file's output is (re)written, atomically, once all its pages have a line.
"""

from __future__ import annotations

import html
import json
import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..render.completion import Completion
from ..tasks.catalog import Task
from ..tasks.format import strip_fence
from .pages import Source

STATE_DIR = ".ocrgate-batch"
RESULTS_NAME = "results.jsonl"
EXTENSIONS = {Task.ADVANCED_RECOGNITION: "json", Task.KEY_INFORMATION_EXTRACTION: "json",
              Task.TABLE_PARSING: "html", Task.DOCUMENT_PARSING: "tex",
              Task.FORMULA_RECOGNITION: "tex"}
"""Per-file output by task; the others (and free prompts) write ``.txt``."""


def extension(task: Task | None) -> str:
    return EXTENSIONS.get(task, "txt") if task is not None else "txt"


def page_record(source: Source, index: int, task: str, model: str,
                completion: Completion | None = None, error: dict[str, Any] | None = None,
                seconds: float = 0.0, text: str | None = None,
                usage: dict[str, int] | None = None) -> dict[str, Any]:
    """One page's line (``completion`` in-process; ``text``/``usage`` from a server)."""
    if completion is not None:
        text = completion.text
        usage = {"input_tokens": completion.usage.input_tokens,
                 "image_tokens": completion.usage.image_tokens,
                 "output_tokens": completion.usage.output_tokens}
    return {
        "key": source.key(index, task, model), "file": source.name, "path": str(source.path),
        "page": index + 1, "pages": source.pages, "task": task, "model": model, "text": text,
        "ocr_result": completion.ocr_result if completion else None,
        "finish_reason": completion.finish_reason if completion else None,
        "usage": usage, "error": error, "seconds": round(seconds, 3)}


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class StateLog:
    """Append-only, fsync'd record of finished pages (and, with ``--server``, of the batches
    submitted)."""

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / STATE_DIR / "state.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        cut = self.path.exists() and self.path.stat().st_size and not self._ends_with_newline()
        self._fh = self.path.open("a", encoding="utf-8")
        if cut:
            self._fh.write("\n")  # after a line cut short by a crash

    def load(self) -> list[dict[str, Any]]:
        """Every intact entry (a line cut short by a crash is skipped)."""
        entries = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries

    def append(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        with self._lock:
            self._fh.write(line + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def close(self) -> None:
        self._fh.close()


class Outputs:
    """Per-file outputs as files complete, ``results.jsonl`` at the end."""

    def __init__(self, out_dir: Path, sources: list[Source], task: Task | None, model: str,
                 records: dict[str, dict[str, Any]]) -> None:
        self.out_dir = out_dir
        self.sources = sources
        self.task_name = task.value if task is not None else "free_prompt"
        self.task = task
        self.model = model
        self.records = records
        self._lock = threading.Lock()

    def _pages(self, source: Source) -> list[dict[str, Any]] | None:
        got = [self.records.get(source.key(i, self.task_name, self.model))
               for i in range(source.pages)]
        return None if any(r is None for r in got) else [r for r in got if r is not None]

    def add(self, record: dict[str, Any], source: Source) -> None:
        with self._lock:
            self.records[record["key"]] = record
            pages = self._pages(source)
        if pages is not None and any(not p["error"] for p in pages):
            self.write_file(source, pages)

    def output_path(self, source: Source) -> Path:
        return self.out_dir / f"{source.name}.{extension(self.task)}"

    def write_file(self, source: Source, pages: list[dict[str, Any]]) -> None:
        ext = extension(self.task)
        texts = [strip_fence(p["text"] or "") if ext != "txt" else (p["text"] or "")
                 for p in pages]
        if ext == "json":
            body = json.dumps({"file": source.name, "task": self.task_name, "model": self.model,
                               "pages": [{"page": p["page"], "text": p["text"],
                                          "ocr_result": p["ocr_result"], "error": p["error"]}
                                         for p in pages]}, ensure_ascii=False, indent=2) + "\n"
        elif ext == "html":
            sections = "".join(f'<section data-page="{p["page"]}">\n{t}\n</section>\n'
                               for p, t in zip(pages, texts, strict=True))
            body = (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
                    f"{html.escape(source.name)}</title></head><body>\n{sections}</body></html>\n")
        elif ext == "tex":
            body = "\n\\newpage\n".join(f"% page {p['page']}\n{t}"
                                        for p, t in zip(pages, texts, strict=True)) + "\n"
        else:
            body = "\n\f\n".join(texts) + "\n"  # form feed between pages, as pdftotext
        _atomic_write(self.output_path(source), body)

    def write_results(self) -> Path:
        """Every page's latest line, in input order (pages not done yet are absent)."""
        path = self.out_dir / RESULTS_NAME
        lines = [json.dumps({k: v for k, v in record.items() if k != "key"}, ensure_ascii=False)
                 for record in self.current()]
        _atomic_write(path, "".join(line + "\n" for line in lines))
        return path

    def current(self) -> Iterable[dict[str, Any]]:
        """The records of this run's pages (not those of other files or options)."""
        for source in self.sources:
            for i in range(source.pages):
                record = self.records.get(source.key(i, self.task_name, self.model))
                if record is not None:
                    yield record
