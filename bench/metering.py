"""Per-request cost of accounts, rate limits and the usage ledger: the same engine behind two
apps in one process, requests interleaved, as a ratio "team / plain".

    .venv/bin/python bench/metering.py [--reps 100] [--database-url postgresql://…] [--out reports/metering.json]

plain: a key from the configuration (in memory), rate limiting and ledger off.
team:  a key from the store (one indexed query), RPM/TPM windows, a ledger row per request
       (SQLite in WAL mode under a temp dir, or --database-url), metrics as in both.
Request kinds: an OCR call on a line crop (the cheapest real work) and a call that fails at
image decoding (edge work only: auth, limits, parsing, ledger row). Plus the gate alone,
in-process (authenticate + admit + record), in microseconds.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import statistics
import tempfile
import threading
import time
from collections.abc import Callable

import httpx
import uvicorn
from common import free_port, line_crop, machine, pct, png, write_json
from starlette.requests import Request

from ocrgate.api.app import create_app
from ocrgate.api.gate import Gate
from ocrgate.config import Settings
from ocrgate.engines.embedded import EmbeddedSettings
from ocrgate.render.completion import Usage
from ocrgate.service import OcrService
from ocrgate.store import Store

PATH = "/api/v1/services/aigc/multimodal-generation/generation"
PLAIN_KEY = "sk-bench-plain"


def serve(app: object) -> tuple[str, Callable[[], None]]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",  # type: ignore[arg-type]
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop


def body(image: str) -> dict:
    return {"model": "qwen-vl-ocr-latest",
            "input": {"messages": [{"role": "user", "content": [{"image": image}]}]}}


def gate_loop(gate: Gate, key: str, n: int) -> float:
    """Microseconds per authenticate + admit + close, in-process."""
    request = Request({"type": "http", "method": "POST", "path": PATH,
                       "headers": [(b"authorization", f"Bearer {key}".encode())]})
    usage = Usage(35, 120, 10)
    start = time.perf_counter()
    for i in range(n):
        meter = gate.meter("native", f"bench-{i}")
        meter.authenticate(request)
        meter.admit("qwen-vl-ocr-latest", None, False)
        meter.succeeded(usage)
    elapsed = time.perf_counter() - start
    gate.ledger.flush(60)
    return elapsed / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=100, help="requests per arm and kind")
    ap.add_argument("--database-url", default=None, help="team arm's store (default: SQLite)")
    ap.add_argument("--out", default="reports/metering.json")
    args = ap.parse_args()

    data_dir = tempfile.mkdtemp(prefix="ocrgate-bench-")
    lean = EmbeddedSettings(warm_up=False, disabled_tasks=[
        "table_parsing", "document_parsing", "formula_recognition", "key_information_extraction"])
    base = Settings(data_dir=data_dir, api_keys=[PLAIN_KEY], engine=lean,
                    rate_limits={"qwen-vl-ocr-latest": {"rpm": 10**9, "tpm": 10**12}})
    service = OcrService(base)
    plain_settings = dataclasses.replace(base, rate_limiting=False, usage_ledger=False)
    store = Store.open(data_dir, args.database_url)
    team_key = store.keys.create("bench", name="team arm").secret
    plain_app = create_app(plain_settings, service=service, store=Store.open(data_dir))
    team_app = create_app(base, service=service, store=store)
    origins = {}
    stops = []
    for name, app in (("plain", plain_app), ("team", team_app)):
        origin, stop = serve(app)
        origins[name] = origin
        stops.append(stop)
    keys = {"plain": PLAIN_KEY, "team": team_key}
    kinds = {"ocr line crop": "data:image/png;base64," + base64.b64encode(png(line_crop())).decode(),
             "failing decode": "data:image/png;base64," + base64.b64encode(b"not an image").decode()}
    times: dict[tuple[str, str], list[float]] = {(k, a): [] for k in kinds for a in keys}
    try:
        with httpx.Client(timeout=120) as client:
            for kind, image in kinds.items():
                for arm in keys:  # warm-up
                    client.post(origins[arm] + PATH, json=body(image),
                                headers={"Authorization": f"Bearer {keys[arm]}"})
                for i in range(args.reps):
                    order = ("plain", "team") if i % 2 == 0 else ("team", "plain")
                    for arm in order:
                        t0 = time.perf_counter()
                        r = client.post(origins[arm] + PATH, json=body(image),
                                        headers={"Authorization": f"Bearer {keys[arm]}"})
                        times[(kind, arm)].append(time.perf_counter() - t0)
                        assert r.status_code == (200 if kind.startswith("ocr") else 400), r.text
        team_gate: Gate = team_app.state.gate
        team_gate.ledger.flush(60)
        rows = len(store.usage.rows(account_id="bench"))
        micro = {"plain": gate_loop(plain_app.state.gate, PLAIN_KEY, 2000),
                 "team": gate_loop(team_gate, team_key, 2000)}
    finally:
        for stop in stops:
            stop()

    report: dict[str, object] = {"machine": machine(), "reps": args.reps,
                                 "store": store.backend, "ledger_rows": rows, "kinds": {},
                                 "gate_us": micro}
    print(f"store: {store.backend}; ledger rows written by the team arm: {rows}")
    print(f"{'request':<16} {'plain p50':>10} {'team p50':>10} {'ratio p50':>10} "
          f"{'plain mean':>11} {'team mean':>10} {'delta mean':>11}")
    for kind in kinds:
        p, t = times[(kind, "plain")], times[(kind, "team")]
        row = {"plain_p50_ms": pct(p, 50) * 1e3, "team_p50_ms": pct(t, 50) * 1e3,
               "plain_p95_ms": pct(p, 95) * 1e3, "team_p95_ms": pct(t, 95) * 1e3,
               "plain_mean_ms": statistics.mean(p) * 1e3, "team_mean_ms": statistics.mean(t) * 1e3}
        row["ratio_p50"] = row["team_p50_ms"] / row["plain_p50_ms"]
        report["kinds"][kind] = row  # type: ignore[index]
        print(f"{kind:<16} {row['plain_p50_ms']:>8.2f}ms {row['team_p50_ms']:>8.2f}ms "
              f"{row['ratio_p50']:>9.3f}x {row['plain_mean_ms']:>9.2f}ms {row['team_mean_ms']:>8.2f}ms "
              f"{row['team_mean_ms'] - row['plain_mean_ms']:>+9.2f}ms")
    print(f"gate in-process (auth + limits + ledger row + metrics): plain {micro['plain']:.1f} µs, "
          f"team {micro['team']:.1f} µs per request")
    write_json(args.out, report)


if __name__ == "__main__":
    main()
