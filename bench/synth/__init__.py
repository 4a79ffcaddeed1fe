"""Synthetic development data in the shared eval format, in two disjoint splits.

``python -m bench.synth OUT`` writes ``OUT/tune/<task>/cases.jsonl`` and
``OUT/heldout/<task>/cases.jsonl`` (images beside them); score a split with
``ocrgate eval OUT/tune --task kie``. Rules and thresholds are tuned on ``tune`` only
and checked on ``heldout``, which differs in seeds, fonts, vocabularies, names, labels,
date formats and receipt / table layouts (see :mod:`.common` and :mod:`.vocab`).
Generated data is not committed: it is deterministic, so the command recreates it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from . import crops, pages, receipts, tables
from .common import CaseWriter, Split

SPLITS = ("tune", "heldout")


def _localization(split: Split) -> int:
    w = CaseWriter(split, "text_localization")
    receipts.localization(w, split)
    pages.localization(w, split)
    return w.close()


def _rotated(split: Split) -> int:
    w = CaseWriter(split, "rotated")
    receipts.rotated(w, split)
    pages.rotated(w, split)
    return w.close()


TASKS: dict[str, Callable[[Split], int]] = {
    "text_recognition": crops.text_recognition,
    "multilingual": crops.multilingual,
    "text_localization": _localization,
    "kie": receipts.kie,
    "table": tables.tables,
    "rotated": _rotated,
    "doc_parsing": pages.doc_parsing,
}


def generate(out: Path, splits: tuple[str, ...] = SPLITS, tasks: tuple[str, ...] = tuple(TASKS),
             scale: float = 1.0) -> dict[str, dict[str, int]]:
    """Write the cases; returns {split: {task: number of cases}}. Each task of each split
    has its own random stream, so generating one task gives the same cases as all."""
    counts: dict[str, dict[str, int]] = {}
    for name in splits:
        counts[name] = {}
        for task in tasks:
            split = Split(name, Path(out) / name, scale)
            split.rng.seed(f"{split.rng.random()}-{task}")
            counts[name][task] = TASKS[task](split)
    return counts
