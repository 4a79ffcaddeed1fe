"""Store fixtures: every store test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ocrgate.store import Store
from tests import pg


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ocrgate.db"
        return
    with pg.database(request.getfixturevalue("pg_server")) as url:
        yield url


@pytest.fixture
def store(store_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store(store_url, tmp_path / "files")
    yield s
    s.close()
