"""Soak: N requests on loopback against one server; RSS sampled every 100 requests.

    .venv/bin/python bench/soak.py [--requests 2000] [--out reports/soak.json]
"""

from __future__ import annotations

import argparse
import base64
import time

import httpx
from common import free_port, machine, png, receipt, rss_mb, start_server, write_json


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--out", default="reports/soak.json")
    args = ap.parse_args()
    port = free_port()
    server = start_server(port)
    url = f"http://127.0.0.1:{port}/api/v1/services/aigc/multimodal-generation/generation"
    images = ["data:image/png;base64," + base64.b64encode(png(receipt(seed))).decode() for seed in range(5)]
    tasks = [None, "advanced_recognition"]
    samples = []
    errors = 0
    start = time.time()
    try:
        with httpx.Client(timeout=120) as client:
            for i in range(args.requests):
                body = {"model": "qwen-vl-ocr-latest",
                        "input": {"messages": [{"role": "user", "content": [{"image": images[i % 5]}]}]}}
                task = tasks[i % 2]
                if task:
                    body["parameters"] = {"ocr_options": {"task": task}}
                r = client.post(url, json=body, headers={"Authorization": "Bearer soak"})
                errors += r.status_code != 200
                if (i + 1) % 100 == 0:
                    rss, peak = rss_mb(server.pid)
                    samples.append({"requests": i + 1, "rss_mb": rss, "peak_mb": peak,
                                    "elapsed_s": time.time() - start})
                    print(f"{i + 1:6d} requests  rss {rss:7.1f} MB  peak {peak:7.1f} MB  errors {errors}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    first, last = samples[0]["rss_mb"], samples[-1]["rss_mb"]
    growth = (last - first) / first * 100
    print(f"RSS after 100: {first:.1f} MB, after {samples[-1]['requests']}: {last:.1f} MB "
          f"(growth {growth:+.1f} %), peak {samples[-1]['peak_mb']:.1f} MB, errors {errors}")
    write_json(args.out, {"machine": machine(), "samples": samples, "errors": errors,
                          "rss_growth_pct": growth})


if __name__ == "__main__":
    main()
