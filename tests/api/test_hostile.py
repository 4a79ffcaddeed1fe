"""The hostile corpus (tests/api/hostile_*_cases.py) against a live server with two API keys.

Every case is sent in each dialect it applies to (most: both) and must come back with
the expected status and error code, in the dialect's body shape (spec §8.1/§8.2; OSS XML
on the upload host, §3.3), with a message that is valid UTF-8, printable and bounded; no
request may reach the loopback trap listener; and the server must still answer after it.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.api.hostile_corpus import Case, Ctx
from tests.api.hostile_suite import KEYS, Trap, all_cases, check_response, make_ctx, send
from tests.conftest import data_url, png_bytes, render_lines, serve

CASES = all_cases()


def _params() -> list[object]:
    out = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
        out += [pytest.param(case, d, id=f"{case.id}[{d}]", marks=marks) for d in case.dialects]
    return out


@pytest.fixture(scope="module")
def hostile(service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: ANN001
    """A server with two keys of two accounts (A from the configuration, B from the store),
    private URLs blocked, sharing the session's engine."""
    from ocrgate.config import Settings
    from ocrgate.service import OcrService
    from ocrgate.store import Store

    data_dir = str(tmp_path_factory.mktemp("hostile"))
    store = Store.open(data_dir)
    store.keys.create("account-b", name="hostile B", secret=KEYS["B"])
    store.close()
    settings = Settings(api_keys=[KEYS["A"]], data_dir=data_dir,
                        allow_private_urls=False, url_timeout_s=2.0, url_connect_timeout_s=2.0)
    engine = service.registry.engines[service.registry.default]
    with serve(OcrService(settings, engine=engine)) as origin:
        yield origin


@pytest.fixture(scope="module")
def trap() -> Iterator[Trap]:
    t = Trap()
    yield t
    t.sock.close()


@pytest.fixture(scope="module")
def ctx(hostile: str, trap: Trap) -> Ctx:
    return make_ctx(hostile, trap)


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=300) as c:
        yield c


def test_corpus_size() -> None:
    """At least 120 cases over the thirteen classes (the issue's floor)."""
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 120 and len(kinds) == 13, (len(CASES), kinds)


@pytest.mark.parametrize("case,dialect", _params())
def test_hostile(case: Case, dialect: str, hostile: str, ctx: Ctx, trap: Trap, client: httpx.Client) -> None:
    call = case.build(dialect, ctx)
    before = trap.connections
    r = send(client, hostile, call)
    check_response(r, case.expected(dialect), call.path)
    assert trap.connections == before, "a hostile URL reached the loopback listener"
    assert client.get(hostile + "/healthz").status_code == 200


def test_still_reads_after_the_corpus(hostile: str, client: httpx.Client) -> None:
    page = data_url(png_bytes(render_lines(["still working"], size=32)))
    body = {"model": "qwen-vl-ocr-latest", "input": {"messages": [{"role": "user", "content": [
        {"image": page}]}]}}
    r = client.post(hostile + "/api/v1/services/aigc/multimodal-generation/generation", json=body,
                    headers={"Authorization": f"Bearer {KEYS['B']}"})
    assert r.status_code == 200
    assert "still working" in r.json()["output"]["choices"][0]["message"]["content"][0]["text"]


def test_corpus_ids_unique() -> None:
    """Every case id is unique (ids name the case in reports)."""
    ids = [f"{c.id}[{d}]" for c in CASES for d in c.dialects]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
