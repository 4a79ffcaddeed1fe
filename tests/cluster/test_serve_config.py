"""The Serve config target (``import_path: ocrgate.cluster.serve_app:build``, as a KubeRay
RayService or ``serve deploy`` runs it) on the local Ray cluster, with engine replicas
autoscaled by queue length: 1 replica at rest, a second while requests queue."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.cluster.conftest import RayCluster, replica_processes
from tests.conftest import API_KEY, data_url, free_port, png_bytes, render_lines

DRIVER = """
import sys, time
import ray
from ray import serve
from ocrgate.cluster.serve_app import build
ray.init(address=sys.argv[1])
serve.shutdown()  # Serve left by an earlier test keeps its own port: start one on ours
serve.start(http_options={"host": "127.0.0.1", "port": int(sys.argv[2])})
serve.run(build({"min_replicas": 1, "max_replicas": 2, "upscale_delay_s": 2,
                 "downscale_delay_s": 600}), name="ocrgate-scaled", route_prefix="/")
print("deployed", flush=True)
try:
    while True:
        time.sleep(1)
except KeyboardInterrupt:
    serve.delete("ocrgate-scaled")
"""
NATIVE = "/api/v1/services/aigc/multimodal-generation/generation"
DENSE = [f"{i:02d} Autoscaling by queue length keeps every replica busy {i * 91}"
         for i in range(40)]


@pytest.mark.timeout(900)
def test_engines_autoscale_with_the_queue(ray_cluster: RayCluster, tmp_path: Path) -> None:
    port = free_port()
    env = dict(ray_cluster.env, OCRGATE_DATA_DIR=str(tmp_path), OCRGATE_API_KEYS=API_KEY,
               OCRGATE_ENGINE_WARM_UP="false")
    log = tmp_path / "driver.log"
    driver = subprocess.Popen([sys.executable, "-c", DRIVER, ray_cluster.address, str(port)],
                              env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 600
        while "deployed" not in log.read_text(errors="replace"):
            assert driver.poll() is None and time.time() < deadline, log.read_text()[-4000:]
            time.sleep(1)
        with contextlib.suppress(httpx.HTTPError):
            while httpx.get(f"{origin}/ready", timeout=5).status_code != 200:
                assert time.time() < deadline
                time.sleep(1)
        assert len(replica_processes("engine-embedded", app="ocrgate-scaled")) == 1

        page = data_url(png_bytes(render_lines(DENSE, size=24)))
        body = {"model": "qwen-vl-ocr-latest",
                "input": {"messages": [{"role": "user", "content": [{"image": page}]}]}}
        seen, answers = 1, []
        load_until = time.time() + 300
        with ThreadPoolExecutor(6) as pool:  # waves of 6 pages until Serve adds the replica
            while seen < 2 and time.time() < load_until:
                futures = [pool.submit(httpx.post, origin + NATIVE, json=body, timeout=600,
                                       headers={"Authorization": f"Bearer {API_KEY}"})
                           for _ in range(6)]
                while not all(f.done() for f in futures):
                    seen = max(seen, len(replica_processes("engine-embedded",
                                                           app="ocrgate-scaled")))
                    time.sleep(0.2)
                answers += [f.result() for f in futures]
        bad = [(a.status_code, a.text[:300]) for a in answers if a.status_code != 200]
        assert answers and not bad, bad
        assert seen == 2, f"no second replica while {len(answers)} pages queued in waves of 6"
    finally:
        driver.send_signal(signal.SIGINT)
        try:
            driver.wait(timeout=120)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait(timeout=10)
