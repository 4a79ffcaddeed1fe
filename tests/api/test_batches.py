"""``/compatible-mode/v1/batches`` over raw HTTP: bodies the SDK would not send, the batch
endpoints' per-account call caps, and the batch runner starting and stopping with the app."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest

from ocrgate.api.app import create_app
from ocrgate.api.batches import PER_MINUTE, EndpointLimiter
from ocrgate.errors import OcrError
from tests.conftest import API_KEY, serve

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def origin(lean_service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: ANN001
    settings = dataclasses.replace(lean_service.settings, batch_runner=False,
                                   data_dir=str(tmp_path_factory.mktemp("batches-api")))
    with serve(lean_service, app=create_app(settings, service=lean_service)) as url:
        yield f"{url}/compatible-mode/v1"


def _error(response: httpx.Response, status: int = 400) -> dict:
    assert response.status_code == status, response.text
    return response.json()["error"]


def test_create_body_checks(origin: str) -> None:
    url = f"{origin}/batches"
    assert "empty" in _error(httpx.post(url, headers=AUTH, content=b""))["message"]
    assert "JSON object" in _error(httpx.post(url, headers=AUTH, json=[1]))["message"]
    assert _error(httpx.post(url, headers=AUTH, json={}))["param"] == "input_file_id"
    base = {"input_file_id": "file-batch-x", "endpoint": "/v1/chat/completions"}
    assert _error(httpx.post(url, headers=AUTH, json={"input_file_id": "f"}))["param"] == "endpoint"
    assert _error(httpx.post(url, headers=AUTH, json=base))["param"] == "completion_window"
    for meta, param in (([1], "metadata"), ({"k": 1}, "metadata.k"),
                        ({"ds_description": "d" * 201}, "metadata.ds_description"),
                        ({f"k{i}": "v" for i in range(17)}, "metadata")):
        err = _error(httpx.post(url, headers=AUTH, json={**base, "completion_window": "24h",
                                                         "metadata": meta}))
        assert err["param"] == param, meta
    created = httpx.post(f"{origin}/files", headers=AUTH, data={"purpose": "batch"},
                         files={"file": ("a.jsonl", b"{}\n")}).json()
    ok = httpx.post(url, headers=AUTH, json={"input_file_id": created["id"], "endpoint":
                                             "/v1/chat/completions", "completion_window": "14d"})
    assert ok.status_code == 200 and ok.json()["status"] == "validating"  # no runner here
    assert ok.json()["completion_window"] == "14d"


def test_list_is_capped_per_account_and_minute() -> None:
    limiter = EndpointLimiter()
    for _ in range(PER_MINUTE["list"]):
        limiter.check("a", "list")
    with pytest.raises(OcrError) as caught:
        limiter.check("a", "list")
    assert caught.value.code == "Throttling.RateQuota" and 1 <= caught.value.retry_after_s <= 60
    limiter.check("b", "list")  # per account
    limiter.check("a", "retrieve")  # per endpoint
    EndpointLimiter(enabled=False).check("a", "list")


def test_list_query_checks(origin: str) -> None:
    for params, param in (({"limit": 101}, "limit"), ({"limit": "x"}, "limit"),
                          ({"create_before": "20260101"}, "create_before")):
        assert _error(httpx.get(f"{origin}/batches", headers=AUTH, params=params))["param"] == param
    assert httpx.get(f"{origin}/batches", headers=AUTH,
                     params={"after": "batch_unknown"}).json()["data"] == []
