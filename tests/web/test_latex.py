"""The playground's LaTeX-document reader (``app/latex.js``) on fixed documents:
``node --test tests/web/latex.test.mjs`` (pure functions, no browser)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

TEST_FILE = Path(__file__).with_name("latex.test.mjs")
NODE_TESTS = 5  # test() blocks in TEST_FILE


def test_latex_reader() -> None:
    if shutil.which("node") is None:
        if os.environ.get("CI"):
            pytest.fail("node is not installed (scripts/setup.sh installs it)")
        pytest.skip("node is not installed")
    proc = subprocess.run(["node", "--test", "--test-reporter=tap", str(TEST_FILE)],
                          cwd=TEST_FILE.parent, capture_output=True, text=True, encoding="utf-8", timeout=120)
    report = proc.stdout + proc.stderr
    assert proc.returncode == 0, report
    counts = {k: int(v) for k, v in re.findall(r"^# (pass|fail) (\d+)$", report, re.M)}
    assert counts == {"pass": NODE_TESTS, "fail": 0}, report
