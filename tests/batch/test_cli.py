"""``ocrgate batch`` as a user runs it (subprocesses): a 20-page PDF killed mid-run and
resumed, interrupted with Ctrl-C, folders/globs/TIFF frames with per-page errors, and the
same folder through a live server's Batch API (``--server``), resumed while it polls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrgate.eval.metrics import cer
from tests.conftest import API_KEY, LEAN_DISABLED, render_lines, serve

PAGES = 20


def _page_text(i: int) -> list[str]:
    return [f"Invoice page {i + 1}", f"Total due {100 + 7 * i}"]


def _pdf(path: Path, pages: int = PAGES) -> Path:
    images = [render_lines(_page_text(i), size=30, width=640) for i in range(pages)]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=100)
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "OCRGATE_DATA_DIR": str(tmp_path / "data"),
            "OCRGATE_ENGINE_WARM_UP": "false",
            "OCRGATE_ENGINE_DISABLED_TASKS": ",".join(LEAN_DISABLED)}


def _batch(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "ocrgate.cli", "batch", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            encoding="utf-8", env=_env(tmp_path), start_new_session=True)


def _state(out: Path) -> list[dict]:
    path = out / ".ocrgate-batch" / "state.jsonl"
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            pass  # a line cut by the kill
    return entries


def _wait_pages(out: Path, proc: subprocess.Popen[str], n: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while len([e for e in _state(out) if "key" in e]) < n:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.05)


def _results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


@pytest.mark.timeout(600)
def test_pdf_killed_interrupted_and_resumed(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "invoices.pdf")
    out = tmp_path / "out"
    args = (str(pdf), "--out", str(out), "--workers", "0")
    first = _batch(tmp_path, *args)
    _wait_pages(out, first, 4)
    first.send_signal(signal.SIGKILL)
    first.wait(30)
    done_first = {e["key"] for e in _state(out) if "key" in e}
    assert 4 <= len(done_first) < PAGES

    second = _batch(tmp_path, *args)
    _wait_pages(out, second, len(done_first) + 3)
    second.send_signal(signal.SIGINT)  # Ctrl-C: in-flight pages finish, results are written
    output = second.communicate(timeout=120)[0]
    assert second.returncode == 130, output
    assert f"{len(done_first)} already done" in output and "interrupted" in output
    done_second = {e["key"] for e in _state(out) if "key" in e}
    assert done_first < done_second and len(done_second) < PAGES
    assert [r["page"] for r in _results(out)] == sorted(
        json.loads(k)[3] + 1 for k in done_second)

    third = _batch(tmp_path, *args)
    output = third.communicate(timeout=300)[0]
    assert third.returncode == 0, output
    assert f"{len(done_second)} already done" in output and "20 read, 0 failed" in output
    keys = [e["key"] for e in _state(out) if "key" in e]
    assert len(keys) == len(set(keys)) == PAGES  # no page done twice: resumed, not redone
    results = _results(out)
    assert [r["page"] for r in results] == list(range(1, PAGES + 1))
    for r in results:
        assert r["error"] is None and r["pages"] == PAGES and r["file"] == "invoices.pdf"
        assert cer(r["text"], "\n".join(_page_text(r["page"] - 1))) < 0.05, r["text"]
    pages = (out / "invoices.pdf.txt").read_text().split("\n\f\n")
    assert len(pages) == PAGES and pages[0].startswith("Invoice page 1")


def test_folders_globs_tiff_frames_and_page_errors(tmp_path: Path) -> None:
    src = tmp_path / "scans"
    (src / "sub").mkdir(parents=True)
    render_lines(["Loose receipt 42"], size=30).save(src / "receipt.png")
    frames = [render_lines([f"Fax frame {i}"], size=30, width=500) for i in range(3)]
    frames[0].save(src / "sub" / "fax.tif", save_all=True, append_images=frames[1:],
                   compression=None)
    (src / "sub" / "broken.png").write_bytes(b"\x89PNG not really")
    (src / "notes.txt").write_text("not an image: a folder search skips it")
    extra = tmp_path / "extra-1.png"
    render_lines(["Globbed page"], size=30).save(extra)
    out = tmp_path / "out"
    proc = _batch(tmp_path, str(src), str(tmp_path / "extra-*.png"), str(tmp_path / "nope.png"),
                  "--out", str(out), "--task", "advanced_recognition", "--workers", "0")
    output = proc.communicate(timeout=300)[0]
    assert proc.returncode == 1, output  # a page failed: reported, the rest done
    assert "nope.png: no such file" in output
    assert "sub/broken.png page 1/1: InvalidParameter" in output
    assert "6 pages: 5 read, 1 failed" in output
    fax = json.loads((out / "sub" / "fax.tif.json").read_text())
    assert fax["task"] == "advanced_recognition" and [p["page"] for p in fax["pages"]] == [1, 2, 3]
    for i, page in enumerate(fax["pages"]):
        assert [w["text"] for w in page["ocr_result"]["words_info"]] == [f"Fax frame {i}"]
    assert json.loads((out / "receipt.png.json").read_text())["pages"][0]["error"] is None
    assert (out / "extra-1.png.json").exists() and not (out / "sub" / "broken.png.json").exists()
    records = {(r["file"], r["page"]): r for r in _results(out)}
    assert set(records) == {("receipt.png", 1), ("sub/broken.png", 1), ("sub/fax.tif", 1),
                            ("sub/fax.tif", 2), ("sub/fax.tif", 3), ("extra-1.png", 1)}
    assert records[("sub/broken.png", 1)]["error"]["status"] == 400


@pytest.fixture(scope="module")
def batch_server(lean_service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: ANN001
    import dataclasses

    from ocrgate.api.app import create_app

    settings = dataclasses.replace(lean_service.settings, batch_runner=True,
                                   data_dir=str(tmp_path_factory.mktemp("cli-server")))
    app = create_app(settings, service=lean_service)
    app.state.batch_runner.poll_s = 0.1
    with serve(lean_service, app=app, lifespan="on") as origin:
        yield origin


@pytest.mark.timeout(600)
def test_server_mode_goes_through_the_batch_api(tmp_path: Path, batch_server: str) -> None:
    src = tmp_path / "docs"
    src.mkdir()
    _pdf(src / "short.pdf", pages=4)
    frames = [render_lines([f"Scan frame {i}"], size=30, width=500) for i in range(2)]
    frames[0].save(src / "scan.tif", save_all=True, append_images=frames[1:], compression=None)
    out = tmp_path / "out"
    args = (str(src), "--out", str(out), "--server", batch_server, "--api-key", API_KEY,
            "--poll", "3")
    first = _batch(tmp_path, *args)
    deadline = time.monotonic() + 120
    while not any("submitted" in e for e in _state(out)):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()[0]
        time.sleep(0.05)
    first.send_signal(signal.SIGINT)  # while it polls: the server goes on with the batch
    assert first.wait(60) == 130
    second = _batch(tmp_path, *args[:-1], "0.2")
    output = second.communicate(timeout=300)[0]
    assert second.returncode == 0, output
    entries = _state(out)
    [submitted] = [e["submitted"] for e in entries if "submitted" in e]  # polled, not resent
    assert [e["collected"] for e in entries if "collected" in e] == [submitted]
    results = _results(out)
    assert [(r["file"], r["page"]) for r in results] == [
        ("scan.tif", 1), ("scan.tif", 2), *[("short.pdf", i) for i in range(1, 5)]]
    assert all(r["error"] is None and r["usage"]["image_tokens"] > 0 for r in results)
    texts = (out / "short.pdf.txt").read_text().split("\n\f\n")
    assert [cer(t.strip(), "\n".join(_page_text(i))) < 0.05 for i, t in enumerate(texts)] == [True] * 4
    assert (out / "scan.tif.txt").read_text().split("\n\f\n")[1].strip() == "Scan frame 1"
    again = _batch(tmp_path, *args)
    output = again.communicate(timeout=120)[0]
    assert again.returncode == 0 and "6 already done" in output, output
    assert len([e for e in _state(out) if "submitted" in e]) == 1


def test_ocr_command_reads_every_pdf_page(tmp_path: Path) -> None:
    pdf = _pdf(tmp_path / "two.pdf", pages=2)
    proc = subprocess.run([sys.executable, "-m", "ocrgate.cli", "ocr", str(pdf), "--format",
                           "json"], capture_output=True, text=True, encoding="utf-8", timeout=300, env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    pages = json.loads(proc.stdout)
    assert [p["page"] for p in pages] == [1, 2]
    assert cer(pages[1]["text"], "\n".join(_page_text(1))) < 0.05

