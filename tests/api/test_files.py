"""``/compatible-mode/v1/files`` over raw HTTP: what the SDK never sends (bad multipart, no
purpose, no file), size and account limits, list paging, content, and the error bodies."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest

from ocrgate.api.app import create_app
from tests.conftest import API_KEY, serve

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def origin(lean_service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:  # noqa: ANN001
    settings = dataclasses.replace(lean_service.settings,
                                   data_dir=str(tmp_path_factory.mktemp("files-api")),
                                   batch_file_max_bytes=1000, files_max_per_account=4,
                                   files_max_bytes_per_account=2500, batch_runner=False)
    with serve(lean_service, app=create_app(settings, service=lean_service)) as url:
        yield f"{url}/compatible-mode/v1"


def _upload(origin: str, data: bytes, purpose: str | None = "batch",
            name: str = "in.jsonl") -> httpx.Response:
    fields = {"purpose": purpose} if purpose is not None else {}
    return httpx.post(f"{origin}/files", headers=AUTH, data=fields,
                      files={"file": (name, data, "application/jsonl")})


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}
    return body["error"]


def test_upload_errors(origin: str) -> None:
    assert "'purpose'" in _error(_upload(origin, b"{}", purpose=None), 400)["message"]
    err = _error(_upload(origin, b"{}", purpose="file-extract"), 400)
    assert err["param"] == "purpose" and "is not supported here" in err["message"]
    assert "is unknown" in _error(_upload(origin, b"{}", purpose="nonsense"), 400)["message"]
    no_file = httpx.post(f"{origin}/files", headers=AUTH, data={"purpose": "batch"})
    assert _error(no_file, 400)["param"] == "file"
    crowded = httpx.post(f"{origin}/files", headers=AUTH, data={f"f{i}": "x" for i in range(20)},
                         files={"file": ("a", b"{}")})
    assert _error(crowded, 400)["message"].startswith("Malformed multipart upload: Too many fields")
    too_big = _error(_upload(origin, b"x" * 1001), 400)
    assert too_big["code"] == "invalid_parameter_error" and "1000 bytes" in too_big["message"]
    capped = httpx.post(f"{origin}/files", headers=AUTH, data={"purpose": "batch"},
                        files={"file": ("big", b"x" * (2 * 1024 * 1024), "text/plain")})
    assert _error(capped, 413)["message"].startswith("Payload Too Large")
    assert _error(httpx.get(f"{origin}/files", headers={"Authorization": "Bearer no"}),
                  401)["code"] == "invalid_api_key"


def test_account_limits_list_paging_and_content(origin: str) -> None:
    made = [_upload(origin, b'{"n": %d}\n' % i + b" " * 900).json() for i in range(2)]
    assert _error(_upload(origin, b"x" * 800), 400)["message"].startswith(
        "The account's files would exceed 2500 bytes")
    made += [_upload(origin, b"small\n", name=f"s{i}.jsonl").json() for i in range(2)]
    assert "holds 4 files" in _error(_upload(origin, b"x"), 400)["message"]
    ids = [f["id"] for f in made]
    listing = httpx.get(f"{origin}/files", headers=AUTH, params={"limit": 3}).json()
    assert [f["id"] for f in listing["data"]] == ids[:0:-1] and listing["has_more"]
    assert listing["first_id"] == ids[3] and listing["last_id"] == ids[1]
    rest = httpx.get(f"{origin}/files", headers=AUTH,
                     params={"limit": 3, "after": listing["last_id"]}).json()
    assert [f["id"] for f in rest["data"]] == [ids[0]] and not rest["has_more"]
    ascending = httpx.get(f"{origin}/files", headers=AUTH, params={"order": "asc"}).json()
    assert [f["id"] for f in ascending["data"]] == ids
    assert httpx.get(f"{origin}/files", headers=AUTH,
                     params={"purpose": "batch_output"}).json()["data"] == []
    assert _error(httpx.get(f"{origin}/files", headers=AUTH, params={"limit": 0}), 400)[
        "param"] == "limit"
    assert _error(httpx.get(f"{origin}/files", headers=AUTH, params={"order": "up"}), 400)[
        "param"] == "order"
    content = httpx.get(f"{origin}/files/{ids[2]}/content", headers=AUTH)
    assert content.status_code == 200 and content.content == b"small\n"
    gone = httpx.delete(f"{origin}/files/{ids[2]}", headers=AUTH).json()
    assert gone == {"id": ids[2], "object": "file", "deleted": True}
    missing = _error(httpx.get(f"{origin}/files/{ids[2]}/content", headers=AUTH), 404)
    assert missing == {"message": f"No such File object: {ids[2]}.", "type": "invalid_request_error",
                       "param": "id", "code": "not_found"}
    assert _error(httpx.delete(f"{origin}/files/{ids[2]}", headers=AUTH), 404)
    assert _upload(origin, b"room again\n").status_code == 200
