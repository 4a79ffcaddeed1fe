"""Shared pieces of the benchmark scripts: rendered test images, a server process, RSS, stats.

Images are rendered here with fonts from Debian packages (fonts-dejavu-core,
fonts-noto-cjk; scripts/setup.sh installs both) and, where present, taken from
../shared/eval (never copied into the repository).
"""

from __future__ import annotations

import io
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval"
FONT_LATIN = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_SERIF = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
FONT_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"

WORDS = ("the of and to in is that for it as was with be by on not he this are or his from at which "
         "but have an they you were her she there been one all we their has would when if so no what "
         "invoice payment service order delivery account balance report quarter revenue market").split()
ZH = "这是一个用于测试的中文段落我们需要足够多的文字来填满页面识别系统应当正确读出所有内容包括数字和标点符号"


def _sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def a4_page(dense: bool = False, seed: int = 0) -> Image.Image:
    """A4 at 150 dpi (1240×1754): ~25 lines of 22 px text, or ~70 dense lines of 15 px."""
    rng = random.Random(seed)
    img = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(img)
    size, step = (15, 23) if dense else (22, 52)
    f = ImageFont.truetype(FONT_SERIF, size)
    title = ImageFont.truetype(FONT_LATIN, 34)
    draw.text((110, 90), "Annual Report " + str(2000 + seed), font=title, fill="black")
    y = 170
    while y < 1754 - 120:
        line = ""
        while f.getlength(line + " " + rng.choice(WORDS)) < 1000:
            line = (line + " " + rng.choice(WORDS)).strip()
        draw.text((110, y), line, font=f, fill="black")
        y += step
    return img


def zh_page(seed: int = 0) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", (1240, 1754), "white")
    draw = ImageDraw.Draw(img)
    f = ImageFont.truetype(FONT_CJK, 24)
    for i in range(40):
        start = rng.randrange(len(ZH) - 40)
        draw.text((100, 110 + i * 38), ZH[start:start + 40], font=f, fill="black")
    return img


def receipt(seed: int = 0) -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", (620, 800), (250, 248, 240))
    draw = ImageDraw.Draw(img)
    f = ImageFont.truetype(FONT_CJK, 22)
    draw.text((150, 30), "便利店 CORNER MART", font=f, fill="black")
    y = 90
    total = 0.0
    for _ in range(12):
        item = rng.choice(["Milk 牛奶", "Bread 面包", "Coffee", "Eggs 鸡蛋", "Tea 茶", "Apples"])
        price = rng.randint(100, 2000) / 100
        total += price
        draw.text((40, y), item, font=f, fill="black")
        draw.text((460, y), f"{price:7.2f}", font=f, fill="black")
        y += 40
    draw.text((40, y + 20), "TOTAL 合计", font=f, fill="black")
    draw.text((460, y + 20), f"{total:7.2f}", font=f, fill="black")
    return img.filter(ImageFilter.GaussianBlur(0.6))


def line_crop(text: str = "Payment received on 2025-03-14, thank you") -> Image.Image:
    f = ImageFont.truetype(FONT_LATIN, 20)
    w = int(f.getlength(text)) + 16
    img = Image.new("RGB", (w, 32), "white")
    ImageDraw.Draw(img).text((8, 4), text, font=f, fill="black")
    return img


def large_scan() -> Image.Image:
    """A 300-dpi-like 2480×3508 page of small print: what a naive 2000-px cap destroys."""
    page = a4_page(dense=True, seed=7)
    return page.resize((2480, 3508), Image.Resampling.BICUBIC)


def image_classes() -> dict[str, list[Image.Image]]:
    classes: dict[str, list[Image.Image]] = {
        "line_crop": [line_crop(), line_crop("Invoice No. 4471-B / Due 30 days")],
        "receipt": [receipt(0), receipt(1)],
        "a4_normal": [a4_page(False, 0), zh_page(0)],
        "a4_dense": [a4_page(True, 1)],
        "large_scan": [large_scan()],
    }
    sroie = sorted((EVAL / "kie").glob("*.jpg"))[:2]
    classes["receipt"] += [Image.open(p).convert("RGB") for p in sroie]
    return classes


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, env_extra: dict[str, str] | None = None,
                 log_path: str | None = None) -> subprocess.Popen:
    """``ocrgate serve`` on ``port``; its stderr goes to ``log_path`` when given."""
    import httpx

    env = dict(os.environ, **(env_extra or {}))
    env.setdefault("OCRGATE_DATA_DIR", "/tmp/ocrgate-bench-data")
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - the child owns it
    proc = subprocess.Popen([sys.executable, "-m", "ocrgate.cli", "serve", "--port", str(port),
                             "--log-level", "warning"], env=env,
                            stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def process_tree(pid: int) -> list[int]:
    """``pid`` and every descendant (the server and its engine workers)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mb(pid: int) -> tuple[float, float]:
    """(current RSS, peak RSS) in MB of the server and its engine worker processes, summed
    (each process's own peak: an upper bound of the tree's simultaneous peak)."""
    rss = peak = 0.0
    for p in process_tree(pid):
        try:
            fields = _status(p)
        except OSError:
            continue
        rss += int(fields.get("VmRSS", "0 kB").split()[0]) / 1024
        peak += int(fields.get("VmHWM", "0 kB").split()[0]) / 1024
    return rss, peak


def reset_peaks(pid: int) -> None:
    """Start every process of the tree's peak RSS (VmHWM) again from its current RSS
    (Linux ≥ 4.0, ``/proc/PID/clear_refs``): workers give freed memory back after each
    request, so a peak since process start says nothing about one request."""
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/clear_refs", "w", encoding="ascii") as f:
                f.write("5")
        except OSError:
            continue


def own_rss_mb(pid: int) -> float:
    """Current RSS in MB of this one process (not its children); 0 once it has ended."""
    try:
        return int(_status(pid).get("VmRSS", "0 kB").split()[0]) / 1024
    except OSError:
        return 0.0


def process_rss_mb(pid: int) -> list[dict[str, object]]:
    """Per process of the tree: pid, name, current and peak RSS in MB."""
    out: list[dict[str, object]] = []
    for p in process_tree(pid):
        try:
            fields = _status(p)
            cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:60]
        except OSError:
            continue
        out.append({"pid": p, "name": fields.get("Name", ""), "cmd": cmd,
                    "rss_mb": int(fields.get("VmRSS", "0 kB").split()[0]) / 1024,
                    "peak_mb": int(fields.get("VmHWM", "0 kB").split()[0]) / 1024})
    return out


def native_body(image_url: str) -> dict:
    """A native-dialect request for one image with the default prompt."""
    return {"model": "qwen-vl-ocr-latest",
            "input": {"messages": [{"role": "user", "content": [{"image": image_url}]}]}}


def send_concurrently(url: str, image_urls: list[str], clients: int) -> dict:
    """POST one native request per image with ``clients`` concurrent clients: wall time,
    pages/s, p50/p95 latency and the number of non-200 answers."""
    import httpx

    latencies: list[float] = []
    errors = 0
    client = httpx.Client(timeout=900, limits=httpx.Limits(max_connections=clients))

    def one(image_url: str) -> None:
        nonlocal errors
        t0 = time.perf_counter()
        r = client.post(url, json=native_body(image_url))
        latencies.append(time.perf_counter() - t0)
        errors += r.status_code != 200

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, image_urls))
    wall = time.perf_counter() - t0
    client.close()
    return {"pages": len(image_urls), "wall_s": wall, "pages_per_s": len(image_urls) / wall,
            "p50_s": pct(latencies, 50), "p95_s": pct(latencies, 95), "errors": errors}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def machine() -> dict[str, object]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": datetime.now(UTC).strftime("%Y-%m-%d"), "cores": os.cpu_count(), "cpu": cpu,
            "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def write_json(path: str, data: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2))
    print(f"wrote {path}")
