"""dashscope 1.22.2 (installed beside 2.x by scripts/setup.sh) against a live ocrgate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocrgate.eval.metrics import cer
from tests.conftest import API_KEY, REPO, data_url, png_bytes, render_lines

LEGACY = REPO / ".venv" / "dashscope-1.22.2"
LINES = ["Legacy SDK page", "Line number two"]

SCRIPT = r"""
import json, sys
import dashscope
from dashscope.version import __version__
from dashscope import MultiModalConversation
dashscope.base_http_api_url = sys.argv[1] + "/api/v1"
key, path, url = sys.argv[2], sys.argv[3], sys.argv[4]
def call(content, **kw):
    return MultiModalConversation.call(api_key=key, model="qwen-vl-ocr",
        messages=[{"role": "user", "content": content}], **kw)
out = {"version": __version__}
r = call([{"image": "file://" + path}, {"image": path}])
out["files"] = [r.status_code, r.output.choices[0].message.content[0]["text"] if r.status_code == 200 else r.message]
r = call([{"image": url}], ocr_options={"task": "advanced_recognition"})
out["advanced"] = [w["text"] for w in r.output.choices[0].message.content[0]["ocr_result"]["words_info"]]
for inc in (False, True):
    chunks = list(call([{"image": url}], stream=True, incremental_output=inc))
    texts = [c.output.choices[0].message.content[0]["text"] if c.output.choices[0].message.content else "" for c in chunks]
    out["stream_%s" % inc] = "".join(texts) if inc else texts[-1]
print(json.dumps(out))
"""


@pytest.mark.skipif(not LEGACY.exists(), reason="dashscope 1.22.2 not installed (run scripts/setup.sh)")
def test_dashscope_1_22_2(server: str, tmp_path: Path) -> None:
    page = tmp_path / "legacy.png"
    raw = png_bytes(render_lines(LINES, size=30))
    page.write_bytes(raw)
    env = dict(os.environ, PYTHONPATH=str(LEGACY))
    proc = subprocess.run([sys.executable, "-c", SCRIPT, server, API_KEY, str(page), data_url(raw)],
                          capture_output=True, text=True, encoding="utf-8", env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["version"] == "1.22.2"
    status, text = out["files"]
    assert status == 200 and cer(text, "\n".join(LINES * 2)) < 0.02
    assert out["advanced"] == LINES
    for key in ("stream_False", "stream_True"):
        assert cer(out[key], "\n".join(LINES)) < 0.02, out[key]
