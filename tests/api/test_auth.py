"""Who is calling: store keys, configured keys, admin keys, open mode."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.requests import Request

from ocrgate.api.auth import Authenticator
from ocrgate.config import Settings
from ocrgate.errors import OcrError
from ocrgate.store import Store


def _request(key: str | None) -> Request:
    headers = [(b"authorization", f"Bearer {key}".encode())] if key is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path)


def test_sources_of_keys(store: Store) -> None:
    new = store.keys.create("team-a", rpm=9)
    auth = Authenticator(Settings(api_keys=["sk-config"], admin_keys=["sk-admin"],
                                  default_account="ops"), store)
    p = auth.authenticate(_request(new.secret))
    assert (p.account, p.key_id, p.key_rpm, p.admin) == ("team-a", new.info.id, 9, False)
    p = auth.authenticate(_request("sk-config"))
    assert p.account == "ops" and p.key_id and p.key_id.startswith("cfg-")
    assert auth.admin(_request("sk-admin")).admin
    with pytest.raises(OcrError) as caught:
        auth.admin(_request(new.secret))
    assert (caught.value.status, caught.value.code) == (403, "AccessDenied")
    for bad in ("sk-other", None, ""):
        with pytest.raises(OcrError) as caught:
            auth.authenticate(_request(bad))
        assert (caught.value.status, caught.value.code) == (401, "InvalidApiKey")
    store.keys.revoke(new.info.id)
    with pytest.raises(OcrError):
        auth.authenticate(_request(new.secret))


def test_hashed_config_keys(store: Store) -> None:
    import hashlib

    digest = hashlib.sha256(b"sk-secret").hexdigest()
    auth = Authenticator(Settings(api_keys=[f"sha256:{digest.upper()}"]), store)
    assert auth.authenticate(_request("sk-secret")).account == "default"


def test_open_mode_ends_with_the_first_store_key(store: Store) -> None:
    auth = Authenticator(Settings(), store)
    assert auth.open_mode()
    assert auth.authenticate(_request(None)).account == "anonymous"
    one, two = auth.authenticate(_request("sk-x")), auth.authenticate(_request("sk-y"))
    assert one.account != two.account  # each key its own account, as before
    new = store.keys.create("team-a")
    assert not auth.open_mode()
    assert auth.authenticate(_request(new.secret)).account == "team-a"
    with pytest.raises(OcrError):
        auth.authenticate(_request("sk-x"))
