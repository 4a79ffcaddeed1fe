"""Opening the store: one SQLAlchemy engine (SQLite in WAL mode, or PostgreSQL by URL),
sessions, and the Alembic migrations that run at start."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger("ocrgate.store")

MIGRATIONS = "ocrgate.store:migrations"
_PG_MIGRATION_LOCK = 0x6F637267  # "ocrg": one migrating server at a time


def default_url(data_dir: str | os.PathLike[str]) -> str:
    """The embedded default: ``<data_dir>/ocrgate.db``."""
    path = Path(data_dir).expanduser() / "ocrgate.db"
    return f"sqlite:///{path}"


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean the psycopg (3) driver."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API connection
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")   # readers never block the writer
    cur.execute("PRAGMA synchronous=NORMAL")  # durable at checkpoints; safe with WAL
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")  # several processes share one file
    cur.close()


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


@contextlib.contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations between processes that start together."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_MIGRATION_LOCK})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def migrate(engine: Engine, revision: str = "head", downgrade: bool = False) -> None:
    """Bring the schema up (or down) to ``revision`` with the Alembic scripts shipped
    inside the package."""
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with _migration_lock(engine), engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if downgrade else command.upgrade)(cfg, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        except Exception:  # noqa: BLE001 - no table yet
            return None
    return str(row[0]) if row else None


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
