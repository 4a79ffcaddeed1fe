"""``python -m bench.synth OUT [--split tune|heldout] [--task kie] [--scale 1.0]``."""

from __future__ import annotations

import argparse
from pathlib import Path

from . import SPLITS, TASKS, generate


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__)
    p.add_argument("out", type=Path)
    p.add_argument("--split", action="append", choices=SPLITS, help="default: both")
    p.add_argument("--task", action="append", choices=list(TASKS), help="default: all")
    p.add_argument("--scale", type=float, default=1.0, help="multiply every case count")
    args = p.parse_args()
    counts = generate(args.out, tuple(args.split or SPLITS), tuple(args.task or TASKS), args.scale)
    for split, tasks in counts.items():
        print(split, ", ".join(f"{t} {n}" for t, n in tasks.items()))


if __name__ == "__main__":
    main()
