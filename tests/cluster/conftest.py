"""A real local Ray cluster for the tests: ``ray start --head --block`` on loopback with 2 CPUs
in a short temp dir, token authentication with a token of its own, started once per session
and stopped (with every process it started) at the end. Tests reach it as a separate driver
would: ``ocrgate serve --ray ADDRESS`` / ``ocrgate batch --ray ADDRESS`` subprocesses."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

RAY_MISSING = ("Ray is not installed: pip install 'ocrgate[ray]' (scripts/setup.sh installs it "
               "for the tests)")


def require_ray() -> None:
    """Skip (saying why) where the ray extra is missing."""
    for module in ("ray", "ray.serve", "ray.data"):
        pytest.importorskip(module, reason=RAY_MISSING)


@dataclass
class RayCluster:
    address: str
    env: dict[str, str]
    """Environment for drivers of this cluster (its token, this checkout's sources first)."""
    temp_dir: Path


def driver_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    src = str(REPO / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env.update(extra or {})
    return env


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    require_ray()
    ray_cli = Path(sys.executable).parent / "ray"
    if not ray_cli.exists():
        pytest.skip(f"the ray command is not beside {sys.executable}")
    # Ray's socket paths must stay short: a temp dir directly under /tmp
    temp_dir = Path(tempfile.mkdtemp(prefix="ocrgate-ray-", dir="/tmp"))
    port = free_port()
    env = driver_env({"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)})
    head = subprocess.Popen(
        [str(ray_cli), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--num-cpus", "2", "--num-gpus", "0", "--include-dashboard",
         "false", "--disable-usage-stats", "--temp-dir", str(temp_dir)],
        env=env, stdout=(temp_dir / "head.log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True)
    try:
        deadline = time.time() + 180
        while not _port_open(port):
            if head.poll() is not None or time.time() > deadline:
                raise RuntimeError("ray start --head failed:\n"
                                   + (temp_dir / "head.log").read_text()[-3000:])
            time.sleep(0.5)
        yield RayCluster(f"127.0.0.1:{port}", env, temp_dir)
    finally:
        # --block: on SIGTERM the command stops every process of the node it started
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(timeout=10)
        shutil.rmtree(temp_dir, ignore_errors=True)


def replica_processes(deployment: str, app: str = "ocrgate") -> dict[int, bool]:
    """Live Serve replica processes of ``app``'s ``deployment``: pid -> busy (Ray names a
    replica process ``ray::ServeReplica:<app>:<deployment>`` and appends the method it runs)."""
    marker = f"ray::ServeReplica:{app}:{deployment}"
    found: dict[int, tuple[int, bool]] = {}
    for pid, parent, title in titled_processes(marker):
        rest = title[len(marker):]
        if rest and not rest.startswith((" ", ".")):
            continue  # another deployment whose name starts the same
        # busy: running a request (not a health or metrics call)
        found[pid] = (parent, rest.startswith(".handle_request"))
    return {pid: busy for pid, (parent, busy) in found.items() if parent not in found}


def titled_processes(prefix: str) -> list[tuple[int, int, str]]:
    """(pid, parent pid, title) of live processes whose title starts with ``prefix``; a
    process forked by one of them (its title copied until it execs) is listed too, with that
    parent: callers keep only the processes whose parent is not in the list."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            title = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        title = title.replace("\0", " ").strip()
        if stat[0] != "Z" and title.startswith(prefix):
            found.append((int(entry), int(stat[1]), title))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
