"""Batch throughput and fairness: pages/s of a 200-page batch — ``ocrgate batch`` in-process,
the Batch API of a server, and single requests in a loop — and the p50/p95 of interactive
requests with and without a batch running on the same server (interleaved rounds).

    .venv/bin/python bench/batch.py [--pages 200] [--rounds 3] [--per-round 15]
                                    [--out reports/batch.json]

Pages are rendered receipts (bench/common.py); the interactive requests are other receipts.
The server is ``ocrgate serve`` with its defaults (one engine worker per core plus one
nice-19 worker for batch lines).
"""

from __future__ import annotations

import argparse
import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import free_port, machine, pct, png, receipt, start_server, write_json

PROMPT = ("Please output only the text content from the image without any additional "
          "descriptions or formatting.")
MODEL = "qwen-vl-ocr-latest"


def _data_url(img) -> str:  # noqa: ANN001 - a PIL image
    return "data:image/png;base64," + base64.b64encode(png(img)).decode()


def _body(url: str) -> dict:
    return {"model": MODEL, "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": PROMPT}]}]}


class Api:
    def __init__(self, origin: str) -> None:
        self.http = httpx.Client(base_url=f"{origin}/compatible-mode/v1", timeout=600,
                                 headers={"Authorization": "Bearer sk-bench"})

    def chat(self, url: str) -> float:
        started = time.perf_counter()
        r = self.http.post("/chat/completions", json=_body(url))
        r.raise_for_status()
        return time.perf_counter() - started

    def upload(self, urls: list[str]) -> str:
        lines = "".join(json.dumps({"custom_id": str(i), "method": "POST",
                                    "url": "/v1/chat/completions", "body": _body(u)}) + "\n"
                        for i, u in enumerate(urls))
        r = self.http.post("/files", data={"purpose": "batch"},
                           files={"file": ("bench.jsonl", lines.encode())})
        r.raise_for_status()
        return str(r.json()["id"])

    def create(self, file_id: str) -> str:
        r = self.http.post("/batches", json={"input_file_id": file_id, "completion_window": "24h",
                                             "endpoint": "/v1/chat/completions"})
        r.raise_for_status()
        return str(r.json()["id"])

    def batch(self, batch_id: str) -> dict:
        r = self.http.get(f"/batches/{batch_id}")
        r.raise_for_status()
        return dict(r.json())

    def done(self, batch_id: str) -> int:
        counts = self.batch(batch_id)["request_counts"]
        return int(counts["completed"]) + int(counts["failed"])

    def wait(self, batch_id: str, statuses: tuple[str, ...] = ("completed", "failed", "expired",
                                                                "cancelled")) -> dict:
        while (b := self.batch(batch_id))["status"] not in statuses:
            time.sleep(0.5)
        return b


def loop_mode(api: Api, urls: list[str]) -> dict:
    started = time.perf_counter()
    for url in urls:
        api.chat(url)
    wall = time.perf_counter() - started
    return {"pages": len(urls), "seconds": round(wall, 2), "pages_per_s": round(len(urls) / wall, 3)}


def api_mode(api: Api, file_id: str, pages: int) -> dict:
    started = time.perf_counter()
    batch_id = api.create(file_id)
    final = api.wait(batch_id)
    wall = time.perf_counter() - started
    assert final["request_counts"]["completed"] == pages, final
    return {"pages": pages, "seconds": round(wall, 2), "pages_per_s": round(pages / wall, 3)}


def fairness(api: Api, file_id: str, interactive: list[str], rounds: int, per_round: int) -> dict:
    """Rounds of ``per_round`` interactive requests with the server otherwise idle, then as
    many while a batch runs (the batch cancelled after each round)."""
    idle: list[float] = []
    busy: list[float] = []
    with_traffic: list[float] = []
    alone: list[float] = []
    k = 0
    for _ in range(rounds):
        for _ in range(per_round):
            idle.append(api.chat(interactive[k % len(interactive)]))
            k += 1
        batch_id = api.create(file_id)
        while api.done(batch_id) < 1:
            time.sleep(0.2)
        before, t0 = api.done(batch_id), time.perf_counter()
        for _ in range(per_round):
            busy.append(api.chat(interactive[k % len(interactive)]))
            k += 1
        with_traffic.append((api.done(batch_id) - before) / (time.perf_counter() - t0))
        t0, before = time.perf_counter(), api.done(batch_id)
        time.sleep(10)  # the batch alone: does it progress when interactive traffic stops?
        alone.append((api.done(batch_id) - before) / (time.perf_counter() - t0))
        api.http.post(f"/batches/{batch_id}/cancel")  # (a 400 if it finished already)
        api.wait(batch_id)
    return {"idle_p50_s": round(pct(idle, 50), 3), "idle_p95_s": round(pct(idle, 95), 3),
            "batch_p50_s": round(pct(busy, 50), 3), "batch_p95_s": round(pct(busy, 95), 3),
            "p95_ratio": round(pct(busy, 95) / pct(idle, 95), 3),
            "p50_ratio": round(pct(busy, 50) / pct(idle, 50), 3),
            "requests_per_condition": len(idle),
            "batch_lines_per_s_during_traffic": round(sum(with_traffic) / len(with_traffic), 3),
            "batch_lines_per_s_alone": round(sum(alone) / len(alone), 3)}


def cli_mode(images: list, workdir: Path) -> dict:  # noqa: ANN001 - PIL images
    pdf = workdir / "pages.pdf"
    images[0].save(pdf, save_all=True, append_images=images[1:], resolution=150)
    out = workdir / "cli-out"
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ocrgate.cli", "batch", str(pdf), "--out",
                           str(out), "--task", "text_recognition"], capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    done = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    assert len(done) == len(images) and not any(r["error"] for r in done)
    return {"pages": len(images), "seconds": round(wall, 2),
            "pages_per_s": round(len(images) / wall, 3),
            "note": "wall time of the whole command, engine start included"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-round", type=int, default=15)
    ap.add_argument("--modes", nargs="+", default=["loop", "api", "fairness", "cli"])
    ap.add_argument("--out", default="reports/batch.json")
    args = ap.parse_args()
    images = [receipt(seed) for seed in range(args.pages)]
    urls = [_data_url(im) for im in images]
    interactive = [_data_url(receipt(10_000 + s)) for s in range(10)]
    result: dict = {"machine": machine(), "pages": args.pages}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        if {"loop", "api", "fairness"} & set(args.modes):
            port = free_port()
            server = start_server(port, {"OCRGATE_DATA_DIR": str(workdir / "data")},
                                  log_path=str(workdir / "server.log"))
            try:
                api = Api(f"http://127.0.0.1:{port}")
                for url in interactive[:2]:
                    api.chat(url)  # warm every worker a little
                file_id = api.upload(urls)
                for mode in args.modes:
                    if mode == "loop":
                        result["loop"] = loop_mode(api, urls)
                    elif mode == "api":
                        result["api"] = api_mode(api, file_id, len(urls))
                    elif mode == "fairness":
                        result["fairness"] = fairness(api, file_id, interactive, args.rounds,
                                                      args.per_round)
                    else:
                        continue
                    print(mode, json.dumps(result[mode]), flush=True)
            finally:
                server.terminate()
                server.wait(timeout=60)
        if "cli" in args.modes:
            result["cli"] = cli_mode(images, workdir)
            print("cli", json.dumps(result["cli"]), flush=True)
    write_json(args.out, result)


if __name__ == "__main__":
    main()
