"""Cold start: process start -> first result, for the CLI and for the server.

    .venv/bin/python bench/coldstart.py [--reps 3] [--out reports/coldstart.json]
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
from common import free_port, machine, png, receipt, write_json


def cli_once(path: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ocrgate.cli", "ocr", path], check=True,
                   capture_output=True, env=dict(os.environ, OCRGATE_DATA_DIR="/tmp/ocrgate-bench-data"))
    return time.perf_counter() - t0


def server_once(raw: bytes) -> float:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ocrgate.cli", "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=dict(os.environ, OCRGATE_DATA_DIR="/tmp/ocrgate-bench-data"))
    url = f"http://127.0.0.1:{port}/api/v1/services/aigc/multimodal-generation/generation"
    body = {"model": "qwen-vl-ocr", "input": {"messages": [{"role": "user", "content": [
        {"image": "data:image/png;base64," + base64.b64encode(raw).decode()}]}]}}
    try:
        while True:
            try:
                r = httpx.post(url, json=body, timeout=60)
                if r.status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="reports/coldstart.json")
    args = ap.parse_args()
    raw = png(receipt(0))
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as f:
        f.write(raw)
    cli = [cli_once(f.name) for _ in range(args.reps)]
    srv = [server_once(raw) for _ in range(args.reps)]
    print(f"CLI    process start -> first result (receipt): median {statistics.median(cli):.2f} s  {cli}")
    print(f"server process start -> first result (receipt): median {statistics.median(srv):.2f} s  {srv}")
    write_json(args.out, {"machine": machine(), "cli_s": cli, "server_s": srv})


if __name__ == "__main__":
    main()
