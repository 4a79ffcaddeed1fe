"""Memory per request for large and hostile images: peak RSS of a fresh server over its idle RSS.

    .venv/bin/python bench/memory.py [--out reports/memory.json]

Each case runs in its own fresh server process (so one peak does not hide another): the
server starts, answers a receipt and a dense A4 page (models warm, the detector's buffers
at their working size), every process's peak RSS (VmHWM) is reset to its current RSS
(idle), the case is sent, and the peaks are read again. Cases:

* ``png_bomb``: a ~10 KB PNG of 9000×9000 (81 MP, under the per-frame limit);
* ``tiff_frames``: a TIFF of 50 frames × 6 MP (300 MP in all);
* ``page_80mp``: a 10000×8000 page of text (80 MP, PNG), text_recognition;
* ``receipt``: a normal receipt photo, for scale.

Prints status, idle and peak RSS, the peak over idle in MB and in bytes per pixel.
"""

from __future__ import annotations

import argparse
import base64
import io
import os

import httpx
from common import (
    FONT_SERIF,
    a4_page,
    free_port,
    machine,
    png,
    receipt,
    reset_peaks,
    rss_mb,
    start_server,
    write_json,
)
from PIL import Image, ImageDraw, ImageFont

PATH = "/api/v1/services/aigc/multimodal-generation/generation"


def png_bomb() -> tuple[bytes, int]:
    img = Image.new("L", (9000, 9000), 255)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue(), 9000 * 9000


def tiff_frames() -> tuple[bytes, int]:
    frame = Image.new("L", (3000, 2000), 255)
    ImageDraw.Draw(frame).text((100, 100), "frame", fill=0)
    buf = io.BytesIO()
    frame.save(buf, "TIFF", save_all=True, append_images=[frame] * 49, compression="tiff_deflate")
    return buf.getvalue(), 50 * 3000 * 2000


def page_80mp() -> tuple[bytes, int]:
    img = Image.new("L", (10000, 8000), 255)
    draw = ImageDraw.Draw(img)
    font = ImageFont.truetype(FONT_SERIF, 60)
    for i in range(40):
        draw.text((400, 300 + i * 180), f"Line {i}: the quick brown fox jumps over the lazy dog",
                  font=font, fill=0)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue(), 10000 * 8000


def receipt_case() -> tuple[bytes, int]:
    img = receipt(0)
    return png(img), img.width * img.height


CASES = {"png_bomb": png_bomb, "tiff_frames": tiff_frames, "page_80mp": page_80mp,
         "receipt": receipt_case}


def body(data: bytes) -> dict:
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    return {"model": "qwen-vl-ocr-latest",
            "input": {"messages": [{"role": "user", "content": [{"image": url}]}]},
            "parameters": {"ocr_options": {"task": "text_recognition"}}}


def run_case(name: str) -> dict:
    data, pixels = CASES[name]()
    port = free_port()
    server = start_server(port, {"OCRGATE_MAX_IMAGE_BYTES": str(64 * 1024 * 1024)})
    try:
        url = f"http://127.0.0.1:{port}{PATH}"
        with httpx.Client(timeout=600) as client:
            client.post(url, json=body(receipt_case()[0]))  # warm: a receipt and an A4 page
            client.post(url, json=body(png(a4_page(True, 3))))
            reset_peaks(server.pid)
            idle, _ = rss_mb(server.pid)
            rsp = client.post(url, json=body(data))
            _, peak = rss_mb(server.pid)
        row = {"case": name, "bytes": len(data), "pixels": pixels, "status": rsp.status_code,
               "message": rsp.json().get("message", "")[:120] if rsp.status_code != 200 else "",
               "idle_mb": round(idle, 1), "peak_mb": round(peak, 1),
               "over_idle_mb": round(peak - idle, 1),
               "bytes_per_pixel": round((peak - idle) * 2**20 / pixels, 2)}
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"{name:12s} {row['status']}  {len(data) / 1024:8.0f} KB  {pixels / 1e6:6.1f} MP  "
          f"idle {row['idle_mb']:.0f} MB  peak {row['peak_mb']:.0f} MB  "
          f"+{row['over_idle_mb']:.0f} MB ({row['bytes_per_pixel']} B/px)  {row['message']}")
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", nargs="+", default=list(CASES))
    ap.add_argument("--out", default="reports/memory.json")
    args = ap.parse_args()
    os.environ.setdefault("OCRGATE_DATA_DIR", "/tmp/ocrgate-bench-data")
    rows = [run_case(name) for name in args.cases]
    write_json(args.out, {"machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
