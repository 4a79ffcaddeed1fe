"""The playground router: the page at / and /playground, its hashed assets (gzip, long
cache), the security headers, and a clear 503 where the page was never built."""

from __future__ import annotations

import re

import httpx
import pytest

from ocrgate import web
from tests.conftest import API_KEY

pytestmark = pytest.mark.skipif(not web.built(), reason=web.BUILD_HINT)


def test_page_at_root_and_playground(lean_server: str) -> None:
    for path in ("/", "/playground"):
        rsp = httpx.get(f"{lean_server}{path}")
        assert rsp.status_code == 200
        assert rsp.headers["content-type"].startswith("text/html")
        assert rsp.headers["cache-control"] == "no-cache"
        csp = rsp.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp
        assert "<title>ocrgate playground</title>" in rsp.text
        assert "%SCRIPT%" not in rsp.text and "%STYLE%" not in rsp.text
    assert httpx.head(f"{lean_server}/").status_code == 200
    # the page is public; the API behind it still wants a key
    assert httpx.get(f"{lean_server}/compatible-mode/v1/models").status_code == 401


def test_assets_are_hashed_gzipped_and_cached(lean_server: str) -> None:
    page = httpx.get(f"{lean_server}/").text
    paths = re.findall(r'(?:src|href)="(/playground/assets/[^"]+)"', page)
    assert {p.rsplit(".", 1)[-1] for p in paths} == {"js", "css"}
    for path in paths:
        rsp = httpx.get(f"{lean_server}{path}", headers={"Accept-Encoding": "gzip"})
        assert rsp.status_code == 200
        assert rsp.headers["content-encoding"] == "gzip"
        assert "immutable" in rsp.headers["cache-control"]
        assert int(rsp.headers["content-length"]) < len(rsp.content)  # sent compressed
        # every script comes from here: no CDN address in the bundle
        assert not re.search(r"https?://(cdn|unpkg|fonts\.)", rsp.text)
    assert httpx.get(f"{lean_server}/playground/assets/nope.js").status_code == 404


def test_not_built_is_a_clear_503(lean_service, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from ocrgate.api.app import create_app

    monkeypatch.setattr(web, "INDEX", tmp_path / "missing.html")
    client = TestClient(create_app(service=lean_service))
    rsp = client.get("/playground")
    assert rsp.status_code == 503
    assert "npm ci && npm run build" in rsp.text
    # the API is unaffected
    rsp = client.get("/compatible-mode/v1/models", headers={"Authorization": f"Bearer {API_KEY}"})
    assert rsp.status_code == 200
