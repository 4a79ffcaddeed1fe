"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright's Python package.

No ``playwright install``: the browser is the system one, started with the flags this
sandbox needs (no network, no sandboxing, no GPU) and a new empty profile per launch.
Missing pieces (browser, Playwright, the built page) skip the tests here, and fail them
under CI, where scripts/setup.sh has installed everything.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrgate import web

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1500, "height": 1000}


def _missing() -> str | None:
    if not Path(CHROMIUM).is_file() and shutil.which("chromium") is None:
        return f"{CHROMIUM} not installed (scripts/setup.sh: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright (Python) not installed: pip install -e '.[test]'"
    if not web.built():
        return web.BUILD_HINT
    return None


@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[object]:
    missing = _missing()
    if missing:
        if os.environ.get("CI"):  # CI ran scripts/setup.sh: anything missing is a setup bug
            pytest.fail(missing)
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


def launch(driver, profile: Path):  # noqa: ANN001, ANN201 - playwright types stay in tests
    """A fresh Chromium with an empty profile (so nothing is cached)."""
    return driver.chromium.launch_persistent_context(
        str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        viewport=VIEWPORT, device_scale_factor=1, accept_downloads=False)


@pytest.fixture(scope="module")
def browser(playwright_driver, tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN001, ANN201
    context = launch(playwright_driver, tmp_path_factory.mktemp("chromium-profile"))
    yield context
    context.close()
