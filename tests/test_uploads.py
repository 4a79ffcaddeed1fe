"""The temporary object store behind the SDK upload flow (spec §3.3)."""

from __future__ import annotations

import time

import pytest

from ocrgate.errors import OcrError
from ocrgate.uploads import UploadError, UploadStore


@pytest.fixture
def store(tmp_path) -> UploadStore:
    return UploadStore(tmp_path, secret="s3cret", ttl_s=3600, policy_ttl_s=60, max_file_size_mb=1)


def test_round_trip_and_account_binding(store: UploadStore) -> None:
    p = store.issue_policy("acct-a", "qwen-vl-ocr")
    key = p.upload_dir + "/a.png"
    store.put(policy_b64=p.policy, signature=p.signature, key=key, data=b"abc", content_type="image/png")
    assert store.get(key, "acct-a") == b"abc"
    with pytest.raises(OcrError) as info:
        store.get(key, "acct-b")
    assert "does not appear to be valid" in info.value.message


def test_unique_upload_dirs(store: UploadStore) -> None:
    assert store.issue_policy("a", "m").upload_dir != store.issue_policy("a", "m").upload_dir


def test_bad_signature(store: UploadStore) -> None:
    p = store.issue_policy("a", "m")
    with pytest.raises(UploadError) as info:
        store.put(policy_b64=p.policy, signature="AAAA", key=p.upload_dir + "/x", data=b"1", content_type=None)
    assert (info.value.status, info.value.code) == (403, "SignatureDoesNotMatch")


def test_key_outside_upload_dir(store: UploadStore) -> None:
    p = store.issue_policy("a", "m")
    with pytest.raises(UploadError) as info:
        store.put(policy_b64=p.policy, signature=p.signature, key="elsewhere/x", data=b"1", content_type=None)
    assert info.value.status == 403


def test_too_large_and_overwrite(store: UploadStore) -> None:
    p = store.issue_policy("a", "m")
    with pytest.raises(UploadError) as info:
        store.put(policy_b64=p.policy, signature=p.signature, key=p.upload_dir + "/big",
                  data=b"x" * (1024 * 1024 + 1), content_type=None)
    assert (info.value.status, info.value.code) == (400, "EntityTooLarge")
    store.put(policy_b64=p.policy, signature=p.signature, key=p.upload_dir + "/f", data=b"1", content_type=None)
    with pytest.raises(UploadError) as info:
        store.put(policy_b64=p.policy, signature=p.signature, key=p.upload_dir + "/f", data=b"2", content_type=None)
    assert (info.value.status, info.value.code) == (409, "FileAlreadyExists")


def test_expiry(tmp_path) -> None:
    store = UploadStore(tmp_path, policy_ttl_s=0, ttl_s=0)
    p = store.issue_policy("a", "m")
    time.sleep(0.01)
    with pytest.raises(UploadError) as info:
        store.put(policy_b64=p.policy, signature=p.signature, key=p.upload_dir + "/x", data=b"1", content_type=None)
    assert "Policy expired" in info.value.message
    live = UploadStore(tmp_path, ttl_s=0)
    p = live.issue_policy("a", "m")
    live.put(policy_b64=p.policy, signature=p.signature, key=p.upload_dir + "/x", data=b"1", content_type=None)
    time.sleep(0.01)
    with pytest.raises(OcrError):
        live.get(p.upload_dir + "/x", "a")
