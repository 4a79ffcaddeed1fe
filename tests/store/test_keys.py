"""Accounts and keys on both backends: secrets shown once and stored hashed, revocation, limits."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from ocrgate.store import Store


def test_create_lookup_revoke(store: Store) -> None:
    new = store.keys.create("team-a", name="ci", rpm=5, tpm=1000)
    assert new.secret.startswith("sk-") and len(new.secret) == 51
    assert new.info.hint == new.secret[:7] and new.info.active
    grant = store.keys.lookup(new.secret)
    assert grant is not None
    assert (grant.key_id, grant.account_id, grant.key_rpm, grant.key_tpm) == (new.info.id, "team-a", 5, 1000)
    assert store.keys.lookup(new.secret + "x") is None
    assert store.keys.revoke(new.info.id) is True
    assert store.keys.lookup(new.secret) is None
    assert store.keys.revoke(new.info.id) is False  # already revoked
    assert store.keys.revoke("key_nope") is False
    [listed] = store.keys.list("team-a")
    assert listed.revoked_at is not None and not listed.active


def test_only_the_hash_is_stored(store: Store) -> None:
    new = store.keys.create("team-a")
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT * FROM api_keys")).all()
    dump = repr(rows)
    assert new.secret not in dump and new.secret[7:] not in dump
    assert hashlib.sha256(new.secret.encode()).hexdigest() in dump


def test_keys_are_distinct_and_listed_per_account(store: Store) -> None:
    a1, a2 = store.keys.create("team-a"), store.keys.create("team-a", name="second")
    b = store.keys.create("team-b")
    assert len({a1.secret, a2.secret, b.secret}) == 3
    assert [k.id for k in store.keys.list("team-a")] == [a1.info.id, a2.info.id]
    assert {k.account_id for k in store.keys.list()} == {"team-a", "team-b"}
    assert store.keys.any_active()
    for k in (a1, a2, b):
        store.keys.revoke(k.info.id)
    assert not store.keys.any_active()


def test_account_limits(store: Store) -> None:
    new = store.keys.create("team-a")
    assert store.accounts.get("team-a") is not None
    info = store.accounts.set_limits("team-a", rpm=10, tpm=None)
    assert (info.rpm, info.tpm) == (10, None)
    grant = store.keys.lookup(new.secret)
    assert grant is not None and (grant.account_rpm, grant.account_tpm) == (10, None)
    store.accounts.set_limits("team-c", rpm=None, tpm=5000)  # a new account is created
    assert [a.id for a in store.accounts.list()] == ["team-a", "team-c"]


@pytest.mark.parametrize("bad", ["", "a b", "-x", "x" * 65, "ü"])
def test_bad_account_ids(store: Store, bad: str) -> None:
    with pytest.raises(ValueError, match="invalid account id"):
        store.keys.create(bad)


def test_bad_limits(store: Store) -> None:
    with pytest.raises(ValueError, match="rpm must be a positive integer"):
        store.keys.create("team-a", rpm=0)
