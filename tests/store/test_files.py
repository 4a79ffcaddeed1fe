"""Files belong to one account: another account cannot see, read or delete them."""

from __future__ import annotations

import pytest

from ocrgate.store import Store


def test_files_are_scoped_to_their_account(store: Store) -> None:
    info = store.files.create("team-a", "batch", "in.jsonl", b'{"custom_id":"1"}\n')
    assert info.id.startswith("file-batch-") and info.bytes == 18
    assert info.openai_object()["object"] == "file"
    assert store.files.get("team-a", info.id) == info
    assert store.files.content("team-a", info.id) == b'{"custom_id":"1"}\n'
    assert store.files.get("team-b", info.id) is None
    assert store.files.content("team-b", info.id) is None
    assert store.files.list("team-b") == []
    assert store.files.delete("team-b", info.id) is False
    out = store.files.create("team-a", "batch_output", "out.jsonl", b"")
    assert out.id.startswith("file-batch_output-")
    assert [f.id for f in store.files.list("team-a", purpose="batch")] == [info.id]
    assert store.files.delete("team-a", info.id) is True
    assert store.files.get("team-a", info.id) is None
    assert not (store.files.root / info.id[-2:] / info.id).exists()


def test_unknown_purpose(store: Store) -> None:
    with pytest.raises(ValueError, match="purpose must be one of"):
        store.files.create("team-a", "fine-tune", "x.jsonl", b"")
