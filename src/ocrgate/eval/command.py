"""``ocrgate eval DIR``: run the evaluation set, print a table, write a JSON report.

Exit status: 0 when every case ran (whatever the scores, and unsupported tasks
included), 1 when any case or task failed with an error, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .runner import LOWER_IS_BETTER, TASKS, Report, run_eval

LABELS = {
    "cer": "CER", "ned": "NED", "precision": "P", "recall": "R", "f1": "F1", "exact": "exact",
    "teds": "TEDS", "teds_struct": "TEDS-S", "orientation_acc": "orient", "angle_err": "angle err",
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``eval`` sub-command to ``ocrgate``'s sub-parsers."""
    p = subparsers.add_parser(
        "eval", help="measure accuracy on an evaluation set",
        description="Run <dir>/cases.jsonl (or every <dir>/<task>/cases.jsonl) through ocrgate "
                    "and score the answers. Exit status 1 only when cases fail with errors.")
    p.add_argument("dir", type=Path, help="a task folder or the evaluation root (e.g. shared/eval)")
    p.add_argument("--task", action="append", default=None,
                   help=f"eval task(s) to run, repeatable or comma-separated ({', '.join(TASKS)})")
    p.add_argument("--engine", default=None, help="engine name for in-process runs (default: configured)")
    p.add_argument("--server", default=None, help="measure a running ocrgate at this URL over HTTP")
    p.add_argument("--api-key", default=None, help="API key for --server (default $DASHSCOPE_API_KEY)")
    p.add_argument("--out", type=Path, default=None, help="write the JSON report here")
    p.add_argument("--limit", type=int, default=None, help="first N cases of each task")
    p.set_defaults(func=cmd_eval)
    return p


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return f"{LABELS.get(name, name)} –"
    if name == "angle_err":
        return f"{LABELS[name]} {value:.1f}°"
    return f"{LABELS.get(name, name)} {value:.3f}"


def _metrics_cell(task: str, values: dict[str, Any]) -> str:
    return "  ".join(_fmt(m, values.get(m)) for m in TASKS[task].metrics if m in values)


def render_table(report: Report) -> Any:
    from rich.table import Table

    table = Table(title="ocrgate eval", title_justify="left")
    table.add_column("task")
    table.add_column("group")
    table.add_column("cases", justify="right")
    table.add_column("status")
    table.add_column("metrics")
    table.add_column("p50 s", justify="right")
    table.add_column("errors", justify="right")
    for t in report.tasks:
        p50 = f"{t.latency_p50_s:.2f}" if t.latency_p50_s is not None else "–"
        if t.status != "ok":
            style = "yellow" if t.status == "unsupported" else "red"
            table.add_row(t.task, "", str(t.cases_total), f"[{style}]{t.status}[/]", "–", "–",
                          str(t.errors + (t.status == "error")))
            continue
        table.add_row(t.task, "all", str(len(t.cases)), "ok",
                      _metrics_cell(t.task, t.aggregates), p50,
                      f"[red]{t.errors}[/]" if t.errors else "0")
        for name, values in t.groups.items():
            table.add_row("", name, str(values.get("cases", "")), "",
                          _metrics_cell(t.task, values), "", "")
    return table


def cmd_eval(args: argparse.Namespace, service: Any = None) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    out = Console()
    if not out.is_terminal:  # files and pipes: do not squeeze the table to 80 columns
        out = Console(width=132)
    err = Console(stderr=True)
    if not args.dir.exists():
        err.print(f"[red]error:[/] {args.dir} does not exist")
        return 2
    if args.limit is not None and args.limit < 1:
        err.print("[red]error:[/] --limit must be >= 1")
        return 2
    with Progress(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as bar:
        ids: dict[str, Any] = {}

        def progress(task: str, done: int, total: int) -> None:
            if task not in ids:
                ids[task] = bar.add_task(task, total=total)
            bar.update(ids[task], completed=done, total=total)

        try:
            report = run_eval(args.dir, args.task, args.engine, args.server, args.api_key, progress,
                              limit=args.limit, service=service,
                              config_path=getattr(args, "config", None))
        except ValueError as exc:
            err.print(f"[red]error:[/] {exc}")
            return 2
    out.print(render_table(report))
    for t in report.tasks:
        if t.status != "ok":
            out.print(f"[yellow]{t.task}[/]: {t.status}: {t.message}")
        for c in t.cases:
            if c.error:
                out.print(f"[red]{t.task} {c.id}[/]: {c.error}")
    out.print("lower is better: " + ", ".join(LABELS[m] for m in sorted(LOWER_IS_BETTER))
              + "; the others are higher-is-better rates in [0, 1]")
    m = report.machine
    out.print(f"{report.config['mode']}, engine {report.config['engine']}; ocrgate "
              f"{m['ocrgate_version']}, {m['cpu_model']}, {m['cores']} cores, {m['date']}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n",
                            encoding="utf-8")
        out.print(f"report written to {args.out}")
    return 1 if report.errors else 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m ocrgate.eval.command DIR ...``) until cli.py wires it."""
    parser = argparse.ArgumentParser(prog="ocrgate")
    parser.add_argument("--config", help="TOML configuration file (or $OCRGATE_CONFIG)")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["eval", *(sys.argv[1:] if argv is None else argv)])
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
