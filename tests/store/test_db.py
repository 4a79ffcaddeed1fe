"""Schema and migrations on both backends; SQLite in WAL mode; the batch tables' guarantees."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from ocrgate.store import Store
from ocrgate.store.db import migrate, normalise_url
from ocrgate.store.models import Batch, BatchLine

TABLES = {"accounts", "api_keys", "usage", "files", "batches", "batch_lines", "alembic_version"}


def test_migrated_at_open_and_idempotent(store: Store, store_url: str, tmp_path: Path) -> None:
    assert set(inspect(store.engine).get_table_names()) == TABLES
    assert store.revision == "0002"
    again = Store(store_url, tmp_path / "files")  # a second server (or a restart)
    assert again.revision == "0002" and again.ping()
    again.close()


def test_downgrade_and_upgrade(store: Store) -> None:
    migrate(store.engine, "base", downgrade=True)
    assert set(inspect(store.engine).get_table_names()) <= {"alembic_version"}
    migrate(store.engine)
    assert set(inspect(store.engine).get_table_names()) == TABLES


def test_sqlite_uses_wal(tmp_path: Path) -> None:
    store = Store.open(tmp_path)
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert (tmp_path / "ocrgate.db").exists()
    store.close()


def test_batch_line_is_unique_per_custom_id(store: Store) -> None:
    info = store.files.create("team-a", "batch", "in.jsonl", b"{}\n")
    with store.sessions.begin() as session:
        session.add(Batch(id="batch_1", account_id="team-a", endpoint="/v1/chat/completions",
                          input_file_id=info.id, completion_window="24h", status="validating",
                          created_at=time.time()))
        session.flush()
        session.add(BatchLine(batch_id="batch_1", line_no=0, custom_id="1"))
    with pytest.raises(IntegrityError), store.sessions.begin() as session:
        session.add(BatchLine(batch_id="batch_1", line_no=1, custom_id="1"))


def test_unreachable_store_does_not_ping(tmp_path: Path) -> None:
    store = Store("postgresql://nobody@127.0.0.1:1/none", tmp_path, auto_migrate=False)
    assert store.ping() is False


def test_url_normalisation() -> None:
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"
