"""The playground page in headless Chromium: weight of a cold load, and time to first
result on a dev receipt, next to the same request made directly over HTTP (interleaved).

    .venv/bin/python bench/playground.py [--reps 3] [--image ../shared/eval/kie/sroie_004.jpg]
                                         [--out reports/playground.json]

Needs Debian's chromium and the Python playwright package (scripts/setup.sh installs
both) and the built page (src/ocrgate/web/dist).
"""

from __future__ import annotations

import argparse
import base64
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from common import EVAL, free_port, machine, start_server, write_json
from playwright.sync_api import Page, sync_playwright

# the flags tests/web/conftest.py uses (no network, no sandbox, no GPU in this sandbox)
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"
RECEIPT_SCHEMA = {"company": "", "date": "", "address": "", "total": ""}
TASKS = ("text_recognition", "advanced_recognition", "key_information_extraction")


def transferred(requests: list) -> int:  # type: ignore[type-arg]
    return sum(r.sizes()["responseBodySize"] + r.sizes()["responseHeadersSize"] for r in requests)


def page_run(page: Page, image: Path, task: str) -> tuple[float, float]:
    """(first result, total) in ms as the page measured them (fetch → first SSE event)."""
    page.set_input_files("#file", str(image))
    page.select_option("#task", task)
    if task == "key_information_extraction":
        page.select_option("#schema-example", label="Receipt (SROIE fields)")
    runs = int(page.get_attribute("body", "data-runs") or 0)
    page.click("#run")
    page.wait_for_selector(f"body[data-runs='{runs + 1}']", state="attached", timeout=300_000)
    assert page.get_attribute("body", "data-state") == "done", page.inner_text("#error")
    return (float(page.get_attribute("#stats", "data-first-ms") or "nan"),
            float(page.get_attribute("#stats", "data-total-ms") or "nan"))


def direct_run(origin: str, image: Path, task: str) -> float:
    """Time to the first SSE event of the same request made by httpx, in ms."""
    options: dict[str, object] = {"task": task}
    if task == "key_information_extraction":
        options["task_config"] = {"result_schema": RECEIPT_SCHEMA}
    body = {"model": "qwen-vl-ocr-latest", "input": {"messages": [{"role": "user", "content": [
        {"image": "data:image/jpeg;base64," + base64.b64encode(image.read_bytes()).decode()}]}]},
        "parameters": {"ocr_options": options, "incremental_output": True}}
    t0 = time.perf_counter()
    first = None
    with httpx.stream("POST", origin + NATIVE, json=body, timeout=300,
                      headers={"X-DashScope-SSE": "enable", "Authorization": "Bearer sk-bench"}) as rsp:
        for line in rsp.iter_lines():  # read to the end, as the page does
            if first is None and line.startswith("data:"):
                first = (time.perf_counter() - t0) * 1000
    if first is None:
        raise RuntimeError("no event")
    return first


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--image", type=Path, default=EVAL / "kie" / "sroie_004.jpg")
    ap.add_argument("--formula", type=Path, default=EVAL / "formula" / "im2m_105de61fa3.png")
    ap.add_argument("--out", default="reports/playground.json")
    args = ap.parse_args()

    port = free_port()
    server = start_server(port)
    origin = f"http://127.0.0.1:{port}"
    report: dict[str, object] = {"machine": machine(), "image": args.image.name}
    try:
        with sync_playwright() as driver, tempfile.TemporaryDirectory() as profile:
            context = driver.chromium.launch_persistent_context(
                profile, executable_path=CHROMIUM, headless=True, args=ARGS,
                viewport={"width": 1500, "height": 1000})
            page = context.new_page()
            finished: list = []  # type: ignore[type-arg]
            page.on("requestfinished", lambda r: finished.append(r))
            t0 = time.perf_counter()
            page.goto(origin + "/")
            page.wait_for_load_state("networkidle")
            load_ms = (time.perf_counter() - t0) * 1000
            cold = transferred(finished)
            report["cold_load"] = {"bytes": cold, "requests": len(finished), "ms": round(load_ms)}
            print(f"cold load: {len(finished)} requests, {cold / 1024:.1f} KB, {load_ms:.0f} ms "
                  "(networkidle)")

            timings: dict[str, dict[str, list[float]]] = {
                t: {"page_first": [], "page_total": [], "direct_first": []} for t in TASKS}
            for rep in range(args.reps + 1):  # rep 0 warms the engine's task models up
                for task in TASKS:
                    first, total = page_run(page, args.image, task)
                    direct = direct_run(origin, args.image, task)
                    if rep == 0:
                        print(f"  warm-up {task}: page first result {first:.0f} ms, direct {direct:.0f} ms")
                        continue
                    timings[task]["page_first"].append(first)
                    timings[task]["page_total"].append(total)
                    timings[task]["direct_first"].append(direct)
            summary = {}
            for task, t in timings.items():
                page_ms = statistics.median(t["page_first"])
                direct_ms = statistics.median(t["direct_first"])
                summary[task] = {"page_first_ms": round(page_ms), "direct_first_ms": round(direct_ms),
                                 "ratio": round(page_ms / direct_ms, 3)}
                print(f"{task}: time to first result in the page {page_ms:.0f} ms (median of "
                      f"{args.reps}), same request by httpx {direct_ms:.0f} ms, x{page_ms / direct_ms:.2f}")
            report["first_result"] = summary

            before = len(finished)
            page_run(page, args.formula, "formula_recognition")
            page.wait_for_load_state("networkidle")
            lazy = [r for r in finished[before:] if "/playground/assets/" in r.url]
            report["katex_on_first_formula"] = {"bytes": transferred(lazy), "requests": len(lazy)}
            print(f"first formula shown: +{len(lazy)} requests, +{transferred(lazy) / 1024:.1f} KB "
                  "(KaTeX script, fonts)")
            context.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    write_json(args.out, report)


if __name__ == "__main__":
    main()
