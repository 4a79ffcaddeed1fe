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
                          "--task", "advanced_recognition"], capture_output=True, text=True, encoding="utf-8", timeout=120,
                         env=_env(tmp_path))
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert [w["text"] for w in doc["ocr_result"]["words_info"]] == LINES
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = subprocess.run([sys.executable, "-m", "ocrgate.cli", "ocr", str(bad)], capture_output=True,
                         text=True, encoding="utf-8", timeout=120, env=_env(tmp_path))
    assert out.returncode == 1 and "Failed to decode the image" in out.stderr


def test_serve_open_mode_binds_loopback(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ocrgate.cli", "serve", "--host", "0.0.0.0",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, encoding="utf-8", env=_env(tmp_path))
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


def test_serve_with_store_key_and_json_logs(tmp_path: Path) -> None:
    """A key made with `ocrgate keys create` ends open mode; JSON logs carry the request id."""
    env = _env(tmp_path) | {"OCRGATE_LOG_FORMAT": "json", "OCRGATE_ENGINE_WARM_UP": "false",
                            "OCRGATE_ENGINE_DISABLED_TASKS": "table_parsing,document_parsing,"
                            "formula_recognition,key_information_extraction"}
    made = subprocess.run([sys.executable, "-m", "ocrgate.cli", "keys", "create", "--account", "ops"],
                          capture_output=True, text=True, encoding="utf-8", timeout=120, env=env)
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "ocrgate.cli", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, encoding="utf-8", env=env)
    origin = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            try:
                if httpx.get(f"{origin}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not start")
        url = f"{origin}/compatible-mode/v1/models"
        assert httpx.get(url, headers={"Authorization": "Bearer whatever"}).status_code == 401
        image = "data:image/png;base64," + __import__("base64").b64encode(
            png_bytes(render_lines(LINES, size=30))).decode()
        r = httpx.post(f"{origin}/api/v1/services/aigc/multimodal-generation/generation",
                       headers={"Authorization": f"Bearer {key}"}, timeout=60,
                       json={"model": "qwen-vl-ocr", "input": {"messages": [
                           {"role": "user", "content": [{"image": image}]}]}})
        assert r.status_code == 200, r.text
        rid = r.json()["request_id"]
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    records = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    other = [ln for ln in output.splitlines() if ln.strip() and not ln.startswith("{")]
    assert records and not other, other[:5]
    [done] = [r for r in records if r.get("request_id") == rid and r["logger"] == "ocrgate.requests"]
    assert done["account"] == "ops" and done["status"] == 200 and done["output_tokens"] > 0
    assert set(done["stages_ms"]) >= {"fetch", "decode", "queue", "engine", "render"}
    assert "no API key configured" not in output
    rows = subprocess.run([sys.executable, "-m", "ocrgate.cli", "usage", "--csv", "-"],
                          capture_output=True, text=True, encoding="utf-8", timeout=120, env=env).stdout
    assert rows.splitlines()[1].startswith("ops,1,0,")  # flushed to the store at shutdown
