"""The browser playground (spec §11's console): page sources and their build output.

``index.html`` and ``app/`` (small ES modules and CSS) are the sources; KaTeX and
DOMPurify come from npm (``package.json`` + ``package-lock.json``, exact versions). The
build (``npm ci && npm run build`` here, which ``scripts/setup.sh`` runs) bundles them with
esbuild into ``dist/``: git-ignored, but declared as package data, so a wheel built after
it carries the page. Nothing is fetched from a CDN: the page works offline.
"""

from __future__ import annotations

from pathlib import Path

SOURCE_DIR = Path(__file__).resolve().parent
DIST_DIR = SOURCE_DIR / "dist"
INDEX = DIST_DIR / "index.html"
ASSETS_DIR = DIST_DIR / "assets"
BUILD_HINT = (
    "The playground page is not built. Run scripts/setup.sh, or in src/ocrgate/web: "
    "npm ci && npm run build (Node.js 20+), then restart the server."
)


def built() -> bool:
    """Whether the build output is there (``dist/index.html`` and its assets)."""
    return INDEX.is_file() and ASSETS_DIR.is_dir()
