"""Alembic environment: the store hands over its connection (``config.attributes``); the
``alembic`` command line works too with ``-x url=...`` for writing new revisions."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ocrgate.store.db import normalise_url
from ocrgate.store.models import Base

config = context.config
connection = config.attributes.get("connection")


def _run(conn) -> None:  # noqa: ANN001
    context.configure(connection=conn, target_metadata=Base.metadata,
                      render_as_batch=conn.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("pass -x url=<database url>")
    with create_engine(normalise_url(url)).begin() as conn:
        _run(conn)
