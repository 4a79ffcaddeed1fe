"""The CLI and the Python API run the same engine without a server; `serve` in open mode."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ocrgate.eval.metrics import cer
from tests.conftest import free_port, png_bytes, render_lines

LINES = ["Command line check", "Page two of nine"]


def test_recognize_in_process(service, tmp_path: Path) -> None:
    import ocrgate

    path = tmp_path / "a.png"
    path.write_bytes(png_bytes(render_lines(LINES, size=30)))
    rec = ocrgate.recognize(path, service=service)
    assert cer(rec.text, "\n".join(LINES)) < 0.02
    adv = ocrgate.recognize(render_lines(LINES, size=30), task="advanced_recognition", service=service)
    assert [w["text"] for w in adv.ocr_result["words_info"]] == LINES
    assert adv.usage.image_tokens > 0


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["OCRGATE_DATA_DIR"] = str(tmp_path / "data")
    env.pop("OCRGATE_API_KEYS", None)
    return env


def test_ocr_command_text_and_json(tmp_path: Path) -> None:
    path = tmp_path / "page.png"
    path.write_bytes(png_bytes(render_lines(LINES, size=30)))
    out = subprocess.run([sys.executable, "-m", "ocrgate.cli", "ocr", str(path), "--format", "json",
                          "--task", "advanced_recognition"], capture_output=True, text=True, timeout=120,
                         env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [w["text"] for w in doc["ocr_result"]["words_info"]] == LINES
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = subprocess.run([sys.executable, "-m", "ocrgate.cli", "ocr", str(bad)], capture_output=True,
                         text=True, timeout=120, env=_env(tmp_path))
    assert out.returncode == 1 and "Failed to decode the image" in out.stderr


def test_serve_open_mode_binds_loopback(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ocrgate.cli", "serve", "--host", "0.0.0.0",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=_env(tmp_path))
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not start")
        # any key is accepted in open mode
        r = httpx.get(f"http://127.0.0.1:{port}/compatible-mode/v1/models",
                      headers={"Authorization": "Bearer whatever"})
        assert r.status_code == 200
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert "no API key configured" in output and "127.0.0.1 only" in output
    assert f"Uvicorn running on http://127.0.0.1:{port}" in output
