"""The playground page at ``/`` and ``/playground`` and its assets (``/playground/assets``).

The page is static and talks to the service only through the public endpoints, with the
key the user types. Assets have content-hashed names (cached for a year, gzip when the
client accepts it); the page itself is revalidated on every load. A Content-Security-Policy
keeps the page to its own origin (no CDN can sneak in; model HTML cannot run script).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import FileResponse, PlainTextResponse, Response
from starlette.middleware.gzip import GZipMiddleware
from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

from .. import web

ASSETS_PATH = "/playground/assets"
CSP = (
    "default-src 'self'; script-src 'self'; connect-src 'self'; font-src 'self'; "
    # the preview shows what the user picked: blob: for files, any URL they typed
    "img-src 'self' data: blob: http: https:; "
    # KaTeX positions glyphs with inline style attributes
    "style-src 'self' 'unsafe-inline'; object-src 'none'; base-uri 'none'; frame-ancestors 'self'"
)


class _ImmutableAssets:
    """Static assets with a long cache lifetime: their names change with their content."""

    def __init__(self) -> None:
        self.files = StaticFiles(directory=web.ASSETS_DIR, check_dir=False)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 200:
                message.setdefault("headers", []).append(
                    (b"cache-control", b"public, max-age=31536000, immutable"))
            await send(message)

        await self.files(scope, receive, send_cached)


def page() -> Response:
    if not web.built():
        return PlainTextResponse(web.BUILD_HINT, status_code=503)
    return FileResponse(web.INDEX, media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache", "Content-Security-Policy": CSP,
                                 "X-Content-Type-Options": "nosniff"})


def mount_playground(app: FastAPI) -> None:
    app.add_api_route("/", page, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_api_route("/playground", page, methods=["GET", "HEAD"], include_in_schema=False)
    app.mount(ASSETS_PATH, GZipMiddleware(_ImmutableAssets(), minimum_size=1024), name="playground")
