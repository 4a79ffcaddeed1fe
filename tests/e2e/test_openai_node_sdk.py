"""The openai Node SDK against a live ocrgate: ``node --test tests/node/openai_sdk.test.mjs``.

The SDK comes from npm at the version pinned in ``tests/node/package-lock.json``
(``scripts/setup.sh`` runs ``npm ci`` there). This test renders the image, starts node
against the session's loopback server, and fails on any failing or missing node test.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import API_KEY, REPO, png_bytes, render_lines

NODE_DIR = REPO / "tests" / "node"
TEST_FILE = NODE_DIR / "openai_sdk.test.mjs"
LINES = ["Invoice number 48213", "Total due 96.50 EUR", "Thank you for shopping"]
NODE_TESTS = 5  # test() blocks in TEST_FILE


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed (scripts/setup.sh installs it)"
    if not (NODE_DIR / "node_modules" / "openai" / "package.json").is_file():
        return f"the openai Node SDK is not installed: run `npm ci` in {NODE_DIR} (scripts/setup.sh does)"
    return None


def test_openai_node_sdk(server: str, tmp_path: Path) -> None:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):  # CI ran scripts/setup.sh: a missing SDK is a setup bug
            pytest.fail(missing)
        pytest.skip(missing)
    image = tmp_path / "lines.png"
    image.write_bytes(png_bytes(render_lines(LINES, size=30)))
    env = {**os.environ, "OCRGATE_ORIGIN": server, "OCRGATE_API_KEY": API_KEY,
           "OCRGATE_IMAGE": str(image), "OCRGATE_LINES": json.dumps(LINES)}
    proc = subprocess.run(["node", "--test", "--test-reporter=tap", str(TEST_FILE)], cwd=NODE_DIR,
                          env=env, capture_output=True, text=True, encoding="utf-8", timeout=280)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    passed = re.search(r"^# pass (\d+)$", report, re.M)
    failed = re.search(r"^# fail (\d+)$", report, re.M)
    assert passed and failed, report
    assert (int(passed.group(1)), int(failed.group(1))) == (NODE_TESTS, 0), report
