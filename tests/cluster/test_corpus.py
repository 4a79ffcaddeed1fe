"""``ocrgate batch --ray ADDRESS`` on a real local Ray cluster (2 CPUs, 2 engine actors): a
54-page set (a 48-page PDF, a 3-frame TIFF, images in a folder, one broken file) gives the
same outputs as the single-process command; Ctrl-C and a rerun resume it; an engine actor
killed mid-run is replaced and its pages are read again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ocrgate.eval.metrics import cer
from tests.cluster.conftest import RayCluster, driver_env, titled_processes
from tests.conftest import LEAN_DISABLED, render_lines

PDF_PAGES = 48
TOTAL = PDF_PAGES + 6
ACTOR_TITLE = "ray::MapWorker(MapBatches(EngineActor))"


def _pdf_text(i: int) -> list[str]:
    return [f"Corpus page {i + 1}", f"Amount {100 + 7 * i}.50", "Ray Data check"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    images = [render_lines(_pdf_text(i), size=30, width=640) for i in range(PDF_PAGES)]
    images[0].save(root / "ledger.pdf", save_all=True, append_images=images[1:], resolution=100)
    (root / "scans").mkdir()
    frames = [render_lines([f"Fax frame {i}"], size=30, width=500) for i in range(3)]
    frames[0].save(root / "scans" / "fax.tif", save_all=True, append_images=frames[1:],
                   compression=None)
    render_lines(["Loose receipt 42", "Paid in cash"], size=30).save(root / "scans" / "receipt.png")
    render_lines(["Globbed page"], size=30).save(root / "scans" / "note.jpg", quality=95)
    (root / "scans" / "broken.png").write_bytes(b"\x89PNG not really")
    return root


def _env(tmp_path: Path, cluster: RayCluster | None) -> dict[str, str]:
    extra = {"OCRGATE_DATA_DIR": str(tmp_path / "data"), "OCRGATE_ENGINE_WARM_UP": "false",
             "OCRGATE_ENGINE_DISABLED_TASKS": ",".join(LEAN_DISABLED)}
    return dict(cluster.env, **extra) if cluster else driver_env(extra)


def _batch(tmp_path: Path, cluster: RayCluster | None, corpus: Path, out: Path,
           *args: str, replicas: int = 2) -> subprocess.Popen[str]:
    ray = ["--ray", cluster.address, "--replicas", str(replicas)] if cluster else []
    return subprocess.Popen([sys.executable, "-m", "ocrgate.cli", "batch", str(corpus / "ledger.pdf"),
                             str(corpus / "scans"), "--out", str(out), *ray, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8",
                            env=_env(tmp_path, cluster), start_new_session=True)


def _results(out: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(line).items() if k not in ("seconds", "finished_at")}
            for line in (out / "results.jsonl").read_text().splitlines()]


def _outputs(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text() for p in sorted(out.rglob("*"))
            if p.is_file() and ".ocrgate-batch" not in p.parts and p.name != "results.jsonl"}


def _state_keys(out: Path) -> list[str]:
    path = out / ".ocrgate-batch" / "state.jsonl"
    keys = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            keys.append(json.loads(line)["key"])
        except (ValueError, KeyError):
            pass  # a line cut by an interruption
    return keys


@pytest.fixture(scope="module")
def single_process(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The single-process command's outputs for the corpus (the reference)."""
    tmp = tmp_path_factory.mktemp("single")
    proc = _batch(tmp, None, corpus, tmp / "out")
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode == 1, output  # the broken file
    assert f"{TOTAL} pages: {TOTAL - 1} read, 1 failed" in output, output
    return tmp / "out"


@pytest.mark.timeout(900)
def test_same_outputs_as_the_single_process_command(ray_cluster: RayCluster, corpus: Path,
                                                    single_process: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _batch(tmp_path, ray_cluster, corpus, out)
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode == 1, output
    assert f"{TOTAL} pages: {TOTAL - 1} read, 1 failed" in output, output
    assert "broken.png page 1/1: InvalidParameter" in output
    assert _results(out) == _results(single_process)
    assert _outputs(out) == _outputs(single_process)
    texts = _outputs(out)["ledger.pdf.txt"].split("\n\f\n")
    assert len(texts) == PDF_PAGES
    assert all(cer(t.strip(), "\n".join(_pdf_text(i))) < 0.05 for i, t in enumerate(texts))


@pytest.mark.timeout(900)
def test_interrupted_and_resumed(ray_cluster: RayCluster, corpus: Path, single_process: Path,
                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    # one engine actor for the run that is interrupted, and 48 PDF pages: with two actors
    # and 24 pages the rest of the run took ~2 s and once ended before Ctrl-C landed
    first = _batch(tmp_path, ray_cluster, corpus, out, replicas=1)
    deadline = time.monotonic() + 600
    while len(_state_keys(out)) < 2:
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.1)
    first.send_signal(signal.SIGINT)  # Ctrl-C
    output = first.communicate(timeout=180)[0]
    assert first.returncode == 130, output
    done = set(_state_keys(out))
    assert 2 <= len(done) < TOTAL and "interrupted" in output

    second = _batch(tmp_path, ray_cluster, corpus, out)
    output = second.communicate(timeout=900)[0]
    assert second.returncode == 1, output
    failed_before = sum(1 for k in done if "broken.png" in k)  # a failed page is tried again
    assert f"{len(done) - failed_before} already done" in output, output
    keys = [k for k in _state_keys(out) if "broken.png" not in k]
    assert len(keys) == len(set(keys)) == TOTAL - 1  # every page read once: resumed, not redone
    assert _results(out) == _results(single_process)
    assert _outputs(out) == _outputs(single_process)


def _actors() -> list[int]:
    found = titled_processes(ACTOR_TITLE)
    return [pid for pid, parent, _ in found if parent not in {p for p, _, _ in found}]


@pytest.mark.timeout(900)
def test_engine_actor_killed_mid_run(ray_cluster: RayCluster, corpus: Path, single_process: Path,
                                     tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = _batch(tmp_path, ray_cluster, corpus, out)
    deadline = time.monotonic() + 600
    while len(_state_keys(out)) < 3:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.1)
    victims = _actors()
    assert victims, "no engine actor process found"
    os.kill(victims[0], signal.SIGKILL)
    output = proc.communicate(timeout=900)[0]
    assert proc.returncode == 1, output
    assert f"{TOTAL} pages: {TOTAL - 1} read, 1 failed" in output, output
    assert _results(out) == _results(single_process)
