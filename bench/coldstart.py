"""Cold start: process start -> first result, for the CLI and for the server.

    .venv/bin/python bench/coldstart.py [--reps 3] [--out reports/coldstart.json]

CLI: ``ocrgate ocr`` on a line crop and on a receipt, process start to exit. Server:
``ocrgate serve`` from process start to listening (``/health`` answers), to ready
(``/ready``: every engine worker up) and to the first result on a line crop.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time

import httpx
from common import free_port, line_crop, machine, png, receipt, write_json


def cli_once(path: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ocrgate.cli", "ocr", path], check=True,
                   capture_output=True, env=dict(os.environ, OCRGATE_DATA_DIR="/tmp/ocrgate-bench-data"))
    return time.perf_counter() - t0


def _until(check, t0: float) -> float:
    while True:
        try:
            if check():
                return time.perf_counter() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.02)


def server_once(raw: bytes) -> tuple[float, float, float]:
    """(listening, ready, first result) seconds after process start."""
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ocrgate.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OCRGATE_DATA_DIR="/tmp/ocrgate-bench-data"))
    url = f"{origin}/api/v1/services/aigc/multimodal-generation/generation"
    body = {"model": "qwen-vl-ocr", "input": {"messages": [{"role": "user", "content": [
        {"image": "data:image/png;base64," + base64.b64encode(raw).decode()}]}]}}
    try:
        listening = _until(lambda: httpx.get(f"{origin}/health", timeout=2).status_code == 200, t0)
        ready = _until(lambda: httpx.get(f"{origin}/ready", timeout=2).status_code == 200, t0)
        first = _until(lambda: httpx.post(url, json=body, timeout=60).status_code == 200, t0)
        return listening, ready, first
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="reports/coldstart.json")
    args = ap.parse_args()
    files = {}
    for name, image in (("line", line_crop()), ("receipt", receipt(0))):
        with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
            f.write(png(image))
        files[name] = f.name
    cli = {name: [cli_once(path) for _ in range(args.reps)] for name, path in files.items()}
    srv = [server_once(png(line_crop())) for _ in range(args.reps)]
    for name, times in cli.items():
        print(f"CLI `ocrgate ocr {name}.png`, start -> exit: median {statistics.median(times):.2f} s "
              f"{[round(t, 2) for t in times]}")
    for i, what in enumerate(("listening", "ready (workers up)", "first result (line)")):
        times = [s[i] for s in srv]
        print(f"server start -> {what}: median {statistics.median(times):.2f} s "
              f"{[round(t, 2) for t in times]}")
    write_json(args.out, {"machine": machine(), "cli_s": cli,
                          "server_s": [{"listening": a, "ready": b, "first": c} for a, b, c in srv]})


if __name__ == "__main__":
    main()
