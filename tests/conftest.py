"""Shared fixtures: a live ocrgate on loopback, a loopback image server, rendered images."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
EVAL = REPO.parent / "shared" / "eval"
API_KEY = "sk-ocrgate-test"
FONT_LATIN = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_CJK = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def eval_cases(task: str) -> list[dict]:
    path = EVAL / task / "cases.jsonl"
    if not path.exists():
        pytest.skip(f"evaluation set not found: {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def font(size: int, cjk: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(FONT_CJK if cjk else FONT_LATIN, size)


def render_lines(lines: list[str], size: int = 28, cjk: bool = False, width: int | None = None,
                 margin: int = 40, spacing: float = 1.8) -> Image.Image:
    """White page with one text line per entry, black text."""
    f = font(size, cjk)
    w = width or max(int(f.getlength(t)) for t in lines) + 2 * margin
    h = int(len(lines) * size * spacing) + 2 * margin
    img = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(img)
    for i, text in enumerate(lines):
        draw.text((margin, margin + int(i * size * spacing)), text, fill="black", font=f)
    return img


def png_bytes(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def data_url(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802
        if self.path.startswith("/slow"):
            time.sleep(float(self.path.rsplit("/", 1)[-1]))
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()
            return
        super().do_GET()


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="session")
def image_server(image_dir: Path) -> Iterator[str]:
    """A plain HTTP server on loopback serving ``image_dir`` (plus /slow/<seconds>)."""
    handler = lambda *a, **k: _Handler(*a, directory=str(image_dir), **k)  # noqa: E731
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory):
    """One OcrService (one engine load) shared by the whole session."""
    from ocrgate.config import Settings
    from ocrgate.service import OcrService

    settings = Settings(
        api_keys=[API_KEY],
        data_dir=str(tmp_path_factory.mktemp("data")),
        allow_private_urls=True,
        url_timeout_s=2.0,
        url_connect_timeout_s=2.0,
    )
    return OcrService(settings)


LEAN_DISABLED = ("table_parsing", "document_parsing", "formula_recognition",
                 "key_information_extraction")
"""Tasks switched off (``disabled_tasks``) in :func:`lean_service`."""


@pytest.fixture(scope="session")
def lean_service(tmp_path_factory: pytest.TempPathFactory):
    """An OcrService whose embedded engine has the tasks of LEAN_DISABLED switched off by
    configuration, for the paths where a task is unavailable (and a cheap engine load)."""
    from ocrgate.config import Settings
    from ocrgate.engines.embedded import EmbeddedSettings
    from ocrgate.service import OcrService

    settings = Settings(
        api_keys=[API_KEY],
        data_dir=str(tmp_path_factory.mktemp("lean-data")),
        engine=EmbeddedSettings(disabled_tasks=list(LEAN_DISABLED), warm_up=False),
    )
    return OcrService(settings)


@contextlib.contextmanager
def serve(service, app=None, lifespan: str = "off", **app_options) -> Iterator[str]:  # noqa: ANN001
    """Run ``service`` (or an app made by ``create_app``) behind uvicorn on a free loopback
    port; yields its origin. ``app_options`` go to ``create_app`` (e.g. ``max_body_bytes``);
    ``lifespan="on"`` runs the app's start and stop (the batch runner)."""
    import uvicorn

    from ocrgate.api.app import create_app

    port = free_port()
    config = uvicorn.Config(app or create_app(service=service, **app_options), host="127.0.0.1", port=port,
                            log_level="warning", lifespan=lifespan)
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not srv.started:
        if time.time() > deadline:
            raise RuntimeError("ocrgate did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def server(service) -> Iterator[str]:
    """A live ocrgate (uvicorn) on a free loopback port; yields its origin."""
    with serve(service) as origin:
        yield origin


@pytest.fixture(scope="session")
def lean_server(lean_service) -> Iterator[str]:
    """:func:`lean_service` behind uvicorn on loopback."""
    with serve(lean_service) as origin:
        yield origin


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A throwaway PostgreSQL cluster (tests/pg.py) for the session; its server URL."""
    from tests import pg

    if pg.find_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries (Debian package postgresql) are not installed")
    with pg.cluster() as url:
        yield url
