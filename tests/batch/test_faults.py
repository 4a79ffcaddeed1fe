"""SIGKILL of a real ``ocrgate serve`` at three points of a batch — during validation, mid-run,
during finalizing — then a restart on the same data_dir: every accepted batch finishes with
each custom_id exactly once in output ∪ error, the right counts, and one ledger row per line
that ran. The restarted server takes the dead one's lease at once (same host, process gone).

Validation and finalizing are a few milliseconds long, so the server is started with the
test hook ``OCRGATE_BATCH_FAULT_PAUSE`` to hold there (after the input was checked but before
its lines are stored; after the output files are written but before the batch ends) and is
killed while it holds. Mid-run needs no hook: it is killed once a third of the lines are done.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from openai import OpenAI

from ocrgate.batch.runner import FAULT_PAUSE_ENV
from ocrgate.store import Store
from tests.batch.helpers import assert_exactly_once, input_jsonl, wait_for
from tests.conftest import LEAN_DISABLED, free_port

KEY = "sk-fault-test"
LINES = 24
BROKEN = (5, 17)


class Server:
    """``ocrgate serve`` in its own process group, output in a log file."""

    def __init__(self, data_dir: Path, log: Path, **env: str) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.env = {**os.environ, "OCRGATE_DATA_DIR": str(data_dir), "OCRGATE_API_KEYS": KEY,
                    "OCRGATE_ENGINE_WARM_UP": "false", "OCRGATE_WORKERS": "1",
                    "OCRGATE_BATCH_WORKERS": "0",
                    "OCRGATE_ENGINE_DISABLED_TASKS": ",".join(LEAN_DISABLED), **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ocrgate.cli", "serve", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.origin}/ready", timeout=2).status_code == 200:
                    return self
            time.sleep(0.2)
        raise AssertionError("server did not become ready:\n" + self.log.read_text()[-3000:])

    def wait_log(self, text: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.log.read_text():
            assert time.monotonic() < deadline, f"never logged {text!r}"
            time.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL the server process alone (its engine worker notices the broken pipe)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def cleanup(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this test started
            self.proc.wait(30)

    def client(self) -> OpenAI:
        return OpenAI(base_url=f"{self.origin}/compatible-mode/v1", api_key=KEY, max_retries=0)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[list[Server]]:
    made: list[Server] = []
    yield made
    for server in made:
        server.cleanup()


def _submit(server: Server) -> str:
    client = server.client()
    uploaded = client.files.create(file=("in.jsonl", io.BytesIO(input_jsonl(LINES, BROKEN))),
                                   purpose="batch")
    return client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                 completion_window="24h").id


def _restart_and_check(servers: list[Server], data_dir: Path, tmp_path: Path,
                       batch_id: str) -> None:
    servers.append(Server(data_dir, tmp_path / "second.log").start())
    store = Store.open(data_dir)
    try:
        info = wait_for(store, batch_id, timeout=300)
        assert info.status == "completed", info
        out, err = assert_exactly_once(store, info, [f"req-{i}" for i in range(LINES)])
        assert {line["custom_id"] for line in err} == {f"req-{i}" for i in BROKEN}
        assert (info.completed, info.failed) == (LINES - len(BROKEN), len(BROKEN))
    finally:
        store.close()
    assert "its server" in (tmp_path / "second.log").read_text()  # taken over at once


@pytest.mark.timeout(600)
def test_sigkill_during_validation(servers: list[Server], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Server(data_dir, tmp_path / "first.log", **{FAULT_PAUSE_ENV: "validating=60"})
    servers.append(first.start())
    batch_id = _submit(first)
    first.wait_log("at validating")
    first.kill9()
    store = Store.open(data_dir)
    assert store.batches.load(batch_id).status == "validating"
    assert store.batches.line_counts(batch_id) == {}  # nothing of it was stored
    store.close()
    _restart_and_check(servers, data_dir, tmp_path, batch_id)


@pytest.mark.timeout(600)
def test_sigkill_mid_run(servers: list[Server], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Server(data_dir, tmp_path / "first.log")
    servers.append(first.start())
    batch_id = _submit(first)
    store = Store.open(data_dir)
    try:
        seen = wait_for(store, batch_id, done=LINES // 3, timeout=300)
        first.kill9()
        killed = store.batches.load(batch_id)
        assert killed.status == "in_progress" and seen.completed + seen.failed < LINES
        counts = store.batches.line_counts(batch_id)
        assert counts.get("pending", 0) + counts.get("running", 0) > 0
    finally:
        store.close()
    _restart_and_check(servers, data_dir, tmp_path, batch_id)


@pytest.mark.timeout(600)
def test_sigkill_during_finalizing(servers: list[Server], tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = Server(data_dir, tmp_path / "first.log", **{FAULT_PAUSE_ENV: "finalizing=60"})
    servers.append(first.start())
    batch_id = _submit(first)
    first.wait_log("at finalizing", timeout=300)
    first.kill9()
    store = Store.open(data_dir)
    try:
        info = store.batches.load(batch_id)
        assert info.status == "finalizing" and info.output_file_id is None
        written = list((data_dir / "files").rglob("file-batch_output-*"))
        assert written and store.files.get(info.account_id, written[0].name) is None
    finally:
        store.close()
    _restart_and_check(servers, data_dir, tmp_path, batch_id)
