"""Latency per image class: ocrgate in-process, ocrgate over HTTP, raw rapidocr, Tesseract.

All runners see the same images, interleaved round-robin in one run, so the ratios are
fair on a noisy machine. Prints p50/p95 per class and each runner's p50 as a ratio to
ocrgate in-process; writes JSON.

    .venv/bin/python bench/latency.py [--reps 3] [--out reports/latency.json]
"""

from __future__ import annotations

import argparse
import base64
import os
import time
from collections.abc import Callable

import httpx
import numpy as np
from common import free_port, image_classes, machine, pct, png, start_server, write_json
from PIL import Image

Runner = Callable[[Image.Image, bytes], object]


def make_runners(port: int) -> dict[str, Runner]:
    import ocrgate
    from ocrgate.config import Settings
    from ocrgate.service import OcrService

    service = OcrService(Settings(data_dir="/tmp/ocrgate-bench-data"))
    client = httpx.Client(timeout=300)
    url = f"http://127.0.0.1:{port}/api/v1/services/aigc/multimodal-generation/generation"

    def inproc(img: Image.Image, raw: bytes) -> object:
        return ocrgate.recognize(raw, service=service).text

    def http(img: Image.Image, raw: bytes) -> object:
        body = {"model": "qwen-vl-ocr-latest", "input": {"messages": [{"role": "user", "content": [
            {"image": "data:image/png;base64," + base64.b64encode(raw).decode()}]}]}}
        r = client.post(url, json=body, headers={"Authorization": "Bearer bench"})
        r.raise_for_status()
        return r.json()

    runners: dict[str, Runner] = {"ocrgate_inproc": inproc, "ocrgate_http": http}

    from rapidocr import RapidOCR

    raw_engine = RapidOCR(params={"Global.log_level": "critical"})

    def rapidocr_default(img: Image.Image, raw: bytes) -> object:
        return raw_engine(np.asarray(img)[:, :, ::-1].copy())

    runners["rapidocr_default"] = rapidocr_default
    try:
        import glob

        import tesserocr

        # Debian's traineddata; the tesserocr wheel bundles libtesseract 5.5 but no models
        tessdata = sorted(glob.glob("/usr/share/tesseract-ocr/*/tessdata"))[-1]
        api = tesserocr.PyTessBaseAPI(path=tessdata + "/", lang="chi_sim+eng")

        def tesseract(img: Image.Image, raw: bytes) -> object:
            api.SetImage(img)
            return api.GetUTF8Text()

        runners["tesseract_chi_eng"] = tesseract
    except Exception as exc:  # noqa: BLE001 - optional peer
        print(f"tesseract not measured: {exc}")
    return runners


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--out", default="reports/latency.json")
    args = ap.parse_args()

    port = free_port()
    server = start_server(port)
    try:
        runners = make_runners(port)
        classes = image_classes()
        encoded = {name: [(img, png(img)) for img in imgs] for name, imgs in classes.items()}
        # warm-up: first-seen shapes cost extra (recogniser widths, detector canvases) in
        # every engine worker, and the server has one per core: each page once per worker
        warm = {name: (os.cpu_count() or 1) if name == "ocrgate_http" else 1 for name in runners}
        for items in encoded.values():
            for img, raw in items:
                for name, run in runners.items():
                    for _ in range(warm[name]):
                        run(img, raw)
        times: dict[str, dict[str, list[float]]] = {c: {r: [] for r in runners} for c in classes}
        for _ in range(args.reps):
            for cls, items in encoded.items():
                for img, raw in items:
                    for rname, run in runners.items():
                        t0 = time.perf_counter()
                        run(img, raw)
                        times[cls][rname].append(time.perf_counter() - t0)
    finally:
        server.terminate()
        server.wait(timeout=30)

    rows = []
    header = f"{'class':<12}" + "".join(f"{r:>26}" for r in runners)
    print(header)
    for cls, per in times.items():
        base = pct(per["ocrgate_inproc"], 50)
        cells = []
        for rname, values in per.items():
            p50, p95 = pct(values, 50), pct(values, 95)
            cells.append(f"{p50 * 1000:7.0f}/{p95 * 1000:6.0f}ms x{p50 / base:4.2f}")
            rows.append({"class": cls, "runner": rname, "p50_s": p50, "p95_s": p95,
                         "ratio_to_inproc": p50 / base, "n": len(values)})
        print(f"{cls:<12}" + "".join(f"{c:>26}" for c in cells))
    print("cells: p50/p95 in ms, x = p50 ratio to ocrgate in-process")
    write_json(args.out, {"machine": machine(), "reps": args.reps, "rows": rows})


if __name__ == "__main__":
    main()
