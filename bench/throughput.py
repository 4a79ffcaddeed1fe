"""Throughput: pages/s on a fixed 20-page A4 mix at 1, 2, 4 and 8 concurrent HTTP clients.

    .venv/bin/python bench/throughput.py [--clients 1 2 4 8] [--out reports/throughput.json]
"""

from __future__ import annotations

import argparse
import base64
import os
import threading
import time

from common import (
    a4_page,
    free_port,
    machine,
    png,
    process_rss_mb,
    send_concurrently,
    start_server,
    write_json,
    zh_page,
)


def pages() -> list[str]:
    imgs = [a4_page(False, s) for s in range(8)] + [a4_page(True, s) for s in range(6)] + [
        zh_page(s) for s in range(6)]
    return ["data:image/png;base64," + base64.b64encode(png(im)).decode() for im in imgs]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--out", default="reports/throughput.json")
    args = ap.parse_args()
    mix = pages()
    port = free_port()
    server = start_server(port, {"OCRGATE_MAX_QUEUE": "64"})
    url = f"http://127.0.0.1:{port}/api/v1/services/aigc/multimodal-generation/generation"
    rows = []
    try:
        # warm-up: every worker sees every page twice (a page size is compiled for the
        # detector when it comes back; recogniser widths cost extra the first time), so the
        # 1-client level measures the same warm server as the others
        workers = os.cpu_count() or 1
        for _ in range(2):
            for image_url in mix:
                send_concurrently(url, [image_url] * workers, workers)
        for n in args.clients:
            row = run_level(n, url, mix, server.pid)
            rows.append(row)
            print(f"clients {n}: {row['pages_per_s']:.3f} pages/s  p50 {row['p50_s']:.2f} s  "
                  f"p95 {row['p95_s']:.2f} s  errors {row['errors']}  peak RSS {row['peak_rss_mb']:.0f} MB "
                  f"(largest process {row['peak_process_rss_mb']:.0f} MB)")
    finally:
        server.terminate()
        server.wait(timeout=30)
    write_json(args.out, {"machine": machine(), "rows": rows})


def run_level(n: int, url: str, mix: list[str], pid: int) -> dict:
    """Send the whole mix with ``n`` concurrent clients; RSS sampled every 0.2 s: the server
    and its engine workers together, and the largest single process."""
    peak_rss = peak_process = 0.0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak_rss, peak_process
        while not stop.is_set():
            procs = process_rss_mb(pid)
            peak_rss = max(peak_rss, sum(float(p["rss_mb"]) for p in procs))  # type: ignore[arg-type]
            peak_process = max([peak_process] + [float(p["rss_mb"]) for p in procs])  # type: ignore[arg-type]
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        row = send_concurrently(url, mix, n)
    finally:
        stop.set()
        sampler.join()
    return {"clients": n, **row, "peak_rss_mb": peak_rss, "peak_process_rss_mb": peak_process}


if __name__ == "__main__":
    main()
