"""Ray on this machine against the single-process server, in one run with interleaved rounds:

* pages/s on a fixed A4 mix with ``--clients`` concurrent HTTP clients: ``ocrgate serve``
  (single process: one worker per core), Ray Serve with 1 engine replica and with 2 (the same
  application redeployed between rounds; replicas of 1 CPU, 1 inference thread);
* the latency Ray adds per request: a line crop (the engine's cheapest page), sequential
  requests alternating between the two servers, p50/p95 of each;
* resident memory per process kind (single-process server and its workers; Ray's engine
  replicas, ingress, proxy, controller, GCS, raylet...);
* ``ocrgate batch`` against ``ocrgate batch --ray --replicas 2`` on a 30-page PDF.

A local Ray head (``ray start --head --block``, ``--cpus`` CPUs) is started and stopped here.

    .venv/bin/python bench/cluster.py [--rounds 2] [--clients 4] [--out reports/cluster.json]
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from common import (
    a4_page,
    free_port,
    line_crop,
    machine,
    native_body,
    own_rss_mb,
    pct,
    png,
    process_tree,
    send_concurrently,
    start_server,
    write_json,
    zh_page,
)

NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"


def as_url(img) -> str:  # noqa: ANN001
    return "data:image/png;base64," + base64.b64encode(png(img)).decode()


def mix() -> list[str]:
    imgs = ([a4_page(False, s) for s in range(4)] + [a4_page(True, s) for s in range(4)]
            + [zh_page(s) for s in range(4)])
    return [as_url(im) for im in imgs]


def processes() -> list[tuple[int, int, str]]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError):
                continue
            out.append((int(entry), parent, title.decode(errors="replace").strip()))
    return out


def ray_memory(temp_dir: str) -> dict[str, list[float]]:
    """RSS (MB) of this cluster's processes by kind."""
    kinds: dict[str, list[float]] = {}
    for pid, _parent, title in processes():
        if title.startswith("ray::ServeReplica:ocrgate:"):
            kind = title.split(":")[2].split(".")[0].split()[0]
        elif title.startswith("ray::"):
            kind = title.split()[0].split(".")[0]
        elif temp_dir in title and ("gcs_server" in title or "raylet" in title):
            kind = "gcs_server" if "gcs_server" in title else "raylet"
        elif temp_dir in title:
            kind = "other ray processes"
        else:
            continue
        try:
            kinds.setdefault(kind, []).append(round(own_rss_mb(pid), 1))
        except OSError:
            continue
    return kinds


def single_memory(pid: int) -> dict[str, list[float]]:
    """Each process's own RSS: the server, then its descendants (forkserver, engine workers,
    resource tracker)."""
    return {"server": [round(own_rss_mb(pid), 1)],
            "workers": [round(own_rss_mb(p), 1) for p in process_tree(pid)[1:]]}


class RayHead:
    def __init__(self, cpus: int) -> None:
        self.temp_dir = tempfile.mkdtemp(prefix="ocrgate-ray-", dir="/tmp")
        self.port = free_port()
        self.env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32),
                        RAY_USAGE_STATS_ENABLED="0")
        os.environ.update({k: self.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")})
        ray_cli = str(Path(sys.executable).parent / "ray")
        self.proc = subprocess.Popen(
            [ray_cli, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port",
             str(self.port), "--num-cpus", str(cpus), "--num-gpus", "0",
             "--include-dashboard", "false", "--disable-usage-stats", "--temp-dir", self.temp_dir],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        time.sleep(5)
        self.address = f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)


def deploy(replicas: int, port: int) -> None:
    from ray import serve

    from ocrgate.cluster.options import ClusterOptions
    from ocrgate.cluster.serve_app import APP_NAME, application
    from ocrgate.config import load_settings

    settings = load_settings()
    serve.run(application(settings, ClusterOptions(replicas=replicas)), name=APP_NAME,
              route_prefix="/")
    origin = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while time.time() < deadline:
        try:
            if httpx.get(origin + "/ready", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    with httpx.Client(timeout=600) as client:  # every replica answers once before timing
        with ThreadPoolExecutor(replicas) as pool:
            list(pool.map(lambda _: client.post(origin + NATIVE, json=native_body(as_url(line_crop()))),
                          range(2 * replicas)))


def batch_run(args: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ocrgate.cli", "batch", *args],
                          capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--latency-reps", type=int, default=20)
    ap.add_argument("--cpus", type=int, default=2, help="CPUs the Ray head declares")
    ap.add_argument("--no-batch", action="store_true")
    ap.add_argument("--out", default="reports/cluster.json")
    args = ap.parse_args()
    data_dir = tempfile.mkdtemp(prefix="ocrgate-bench-cluster-")
    os.environ.setdefault("OCRGATE_DATA_DIR", data_dir)
    report: dict = {"machine": machine(), "load_before": os.getloadavg(), "rounds": []}
    pages = mix()
    single_port, ray_port = free_port(), free_port()
    single = start_server(single_port)
    head = RayHead(args.cpus)
    import ray
    from ray import serve

    ray.init(address=head.address, logging_level="WARNING", log_to_driver=False)
    serve.start(http_options={"host": "127.0.0.1", "port": ray_port},
                logging_config={"log_level": "WARNING", "enable_access_log": False})
    origins = {"single": f"http://127.0.0.1:{single_port}", "ray": f"http://127.0.0.1:{ray_port}"}
    try:
        with httpx.Client(timeout=600) as warm:
            warm.post(origins["single"] + NATIVE, json=native_body(pages[0]))
        for r in range(args.rounds):
            order = ["single", 2, 1] if r % 2 == 0 else [1, 2, "single"]
            row: dict = {}
            for config in order:
                if config == "single":
                    row["single"] = send_concurrently(origins["single"] + NATIVE, pages, args.clients)
                else:
                    deploy(int(config), ray_port)
                    row[f"ray_{config}"] = send_concurrently(origins["ray"] + NATIVE, pages, args.clients)
                    if config == 2:
                        report["memory_ray_2_replicas"] = ray_memory(head.temp_dir)
                name = "single" if config == "single" else f"ray_{config}"
                print(f"round {r + 1} {name:>8}: {row[name]['pages_per_s']:.3f} pages/s "
                      f"(p50 {row[name]['p50_s']:.2f} s, errors {row[name]['errors']})", flush=True)
            report["rounds"].append(row)
        report["memory_single"] = single_memory(single.pid)

        deploy(2, ray_port)
        crop = native_body(as_url(line_crop()))
        lat: dict[str, list[float]] = {"single": [], "ray": []}
        with httpx.Client(timeout=600) as client:
            for _ in range(args.latency_reps):
                for name in ("single", "ray"):
                    t0 = time.perf_counter()
                    client.post(origins[name] + NATIVE, json=crop).raise_for_status()
                    lat[name].append(time.perf_counter() - t0)
        report["latency_line_crop"] = {
            name: {"p50_ms": pct(v, 50) * 1000, "p95_ms": pct(v, 95) * 1000}
            for name, v in lat.items()}
        added = report["latency_line_crop"]["ray"]["p50_ms"] - \
            report["latency_line_crop"]["single"]["p50_ms"]
        report["latency_line_crop"]["ray_added_p50_ms"] = added
        print(f"line crop p50: single {report['latency_line_crop']['single']['p50_ms']:.1f} ms, "
              f"ray {report['latency_line_crop']['ray']['p50_ms']:.1f} ms (+{added:.1f} ms)")
        serve.delete("ocrgate")
        single.terminate()
        single.wait(timeout=60)

        if not args.no_batch:
            report["batch"] = bench_batch(head, args.rounds)
    finally:
        if single.poll() is None:
            single.terminate()
        ray.shutdown()
        head.stop()
    report["load_after"] = os.getloadavg()
    for key in ("memory_single", "memory_ray_2_replicas"):
        print(key, report.get(key))
    write_json(args.out, report)


def bench_batch(head: RayHead, rounds: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="ocrgate-bench-corpus-"))
    images = [a4_page(i % 3 == 0, i) for i in range(30)]
    pdf = folder / "corpus.pdf"
    images[0].save(pdf, save_all=True, append_images=images[1:], resolution=150)
    env = dict(head.env, OCRGATE_DATA_DIR=str(folder / "data"))
    times: dict[str, list[float]] = {"single": [], "ray_2": []}
    for r in range(rounds):
        order = ["single", "ray_2"] if r % 2 == 0 else ["ray_2", "single"]
        for name in order:
            out = folder / f"out-{name}-{r}"
            extra = ["--ray", head.address, "--replicas", "2"] if name == "ray_2" else []
            seconds = batch_run([str(pdf), "--out", str(out), *extra], env)
            times[name].append(seconds)
            print(f"batch round {r + 1} {name:>7}: 30 pages in {seconds:.1f} s "
                  f"({30 / seconds:.3f} pages/s, start-up included)", flush=True)
    return {name: {"seconds": v, "pages_per_s": [30 / s for s in v]} for name, v in times.items()}


if __name__ == "__main__":
    main()
