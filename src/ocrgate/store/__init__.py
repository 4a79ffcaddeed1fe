"""The durable store: SQLite (WAL) under ``data_dir`` by default, PostgreSQL by URL.

One :class:`Store` per process holds the engine and one repository per concern:
``accounts``/``keys`` (keys.py), ``usage`` (the ledger, usage.py), ``files`` (files.py),
``batches`` (batch jobs and their lines, batches.py).
Opening a store migrates it to the newest schema (Alembic scripts in ``migrations/``).
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import text

from .batches import BatchInfo, BatchRepository
from .db import current_revision, default_url, make_engine, migrate, session_factory
from .files import FileInfo, FileRepository
from .keys import AccountInfo, AccountRepository, KeyGrant, KeyInfo, KeyRepository, NewKey, hash_key
from .usage import GROUPINGS, UsageEntry, UsageRepository, UsageSummary

__all__ = [
    "GROUPINGS", "AccountInfo", "BatchInfo", "FileInfo", "KeyGrant", "KeyInfo", "NewKey", "Store",
    "UsageEntry", "UsageSummary", "hash_key",
]


class Store:
    def __init__(self, url: str, files_root: str | os.PathLike[str], auto_migrate: bool = True) -> None:
        self.engine = make_engine(url)
        if auto_migrate:
            migrate(self.engine)
        self.sessions = session_factory(self.engine)
        self.accounts = AccountRepository(self.sessions)
        self.keys = KeyRepository(self.sessions, self.engine)
        self.usage = UsageRepository(self.sessions)
        self.files = FileRepository(self.sessions, files_root)
        self.batches = BatchRepository(self.sessions, self.files)

    @classmethod
    def open(cls, data_dir: str | os.PathLike[str], url: str | None = None) -> Store:
        """``url`` (e.g. ``postgresql://…``), else SQLite at ``<data_dir>/ocrgate.db``."""
        return cls(url or default_url(data_dir), Path(data_dir).expanduser() / "files")

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    @property
    def revision(self) -> str | None:
        return current_revision(self.engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            return False

    def close(self) -> None:
        self.engine.dispose()
