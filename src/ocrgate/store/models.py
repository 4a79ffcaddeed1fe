"""The durable schema (SQLAlchemy 2 declarative): accounts, keys, the usage ledger, files, batches.

Times are UTC epoch seconds (``Double``): portable between SQLite and PostgreSQL, directly
comparable, and what the OpenAI-style objects of spec §10 carry anyway. The ledger also
stores the UTC ``day`` so reports group by day with plain SQL on both backends.
Changing a table here needs a migration in ``migrations/versions`` (the app migrates at start).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Account(Base):
    """A tenant: everything its keys create belongs to it; optional limit overrides."""

    __tablename__ = "accounts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[float] = mapped_column(Double)
    rpm: Mapped[int | None] = mapped_column(Integer)
    """Requests per minute per model (None: the model's default, spec §9.3)."""
    tpm: Mapped[int | None] = mapped_column(BigInteger)
    """Tokens (input + output) per minute per model (None: the model's default)."""


class ApiKey(Base):
    """An API key, stored as the SHA-256 of the secret (the secret is shown once)."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    """The secret's first characters, for telling keys apart in listings."""
    rpm: Mapped[int | None] = mapped_column(Integer)
    """Extra per-key limit (per model), on top of the account's."""
    tpm: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[float] = mapped_column(Double)
    revoked_at: Mapped[float | None] = mapped_column(Double)


class UsageRecord(Base):
    """One row per generation request (sync, stream, batch line), failed ones too (spec §9.2)."""

    __tablename__ = "usage"
    __table_args__ = (
        Index("ix_usage_account_time", "account_id", "created_at"),
        Index("ix_usage_time", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    created_at: Mapped[float] = mapped_column(Double)
    day: Mapped[str] = mapped_column(String(10))
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    account_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))
    dialect: Mapped[str] = mapped_column(String(16))
    """``native``, ``compatible`` or ``batch``."""
    model: Mapped[str | None] = mapped_column(String(100))
    """As requested (alias or snapshot)."""
    model_resolved: Mapped[str | None] = mapped_column(String(100))
    task: Mapped[str | None] = mapped_column(String(64))
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    batch: Mapped[bool] = mapped_column(Boolean, default=False)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    text_tokens: Mapped[int] = mapped_column(Integer, default=0)
    image_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[int] = mapped_column(Integer)
    """HTTP status sent (499: the client went away during a stream)."""
    error_code: Mapped[str | None] = mapped_column(String(64))
    latency_ms: Mapped[float] = mapped_column(Double)
    cost: Mapped[float] = mapped_column(Double, default=0.0)
    """In the price table's currency."""


class File(Base):
    """A stored file of an account (spec §10.1): batch input, output and error files."""

    __tablename__ = "files"
    __table_args__ = (Index("ix_files_account_time", "account_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(32))
    """``batch`` (input), ``batch_output`` or ``batch_error``."""
    filename: Mapped[str] = mapped_column(String(255))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="processed")
    status_details: Mapped[str | None] = mapped_column(Text)
    storage_path: Mapped[str] = mapped_column(String(255))
    """Relative to ``<data_dir>/files`` (several servers: a shared volume)."""
    created_at: Mapped[float] = mapped_column(Double)


class Batch(Base):
    """A batch job (spec §10.3); its lines are in ``batch_lines`` (ocrgate.batch runs them)."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_account_time", "account_id", "created_at"),
                      Index("ix_batches_status", "status"))

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(100))
    input_file_id: Mapped[str] = mapped_column(ForeignKey("files.id"))
    output_file_id: Mapped[str | None] = mapped_column(String(64))
    error_file_id: Mapped[str | None] = mapped_column(String(64))
    completion_window: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    errors: Mapped[Any | None] = mapped_column(JSON)
    meta: Mapped[Any | None] = mapped_column("metadata", JSON)
    request_total: Mapped[int] = mapped_column(Integer, default=0)
    request_completed: Mapped[int] = mapped_column(Integer, default=0)
    request_failed: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Double)
    in_progress_at: Mapped[float | None] = mapped_column(Double)
    expires_at: Mapped[float | None] = mapped_column(Double)
    finalizing_at: Mapped[float | None] = mapped_column(Double)
    completed_at: Mapped[float | None] = mapped_column(Double)
    failed_at: Mapped[float | None] = mapped_column(Double)
    expired_at: Mapped[float | None] = mapped_column(Double)
    cancelling_at: Mapped[float | None] = mapped_column(Double)
    cancelled_at: Mapped[float | None] = mapped_column(Double)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    """The server working on it (several servers share one store)."""
    lease_until: Mapped[float | None] = mapped_column(Double)


class BatchLine(Base):
    """One input line of a batch and its result: a line is done once (status moves
    ``pending`` → ``running`` → ``succeeded``/``failed`` in one transaction with its result),
    so the output file, assembled from these rows, holds each ``custom_id`` exactly once."""

    __tablename__ = "batch_lines"
    __table_args__ = (UniqueConstraint("batch_id", "custom_id", name="uq_batch_lines_custom_id"),
                      Index("ix_batch_lines_status", "batch_id", "status"))

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"),
                                          primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    custom_id: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    request_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[Any | None] = mapped_column(JSON)
    """The output- or error-file line (spec §10.4)."""
    updated_at: Mapped[float | None] = mapped_column(Double)
    byte_offset: Mapped[int | None] = mapped_column(BigInteger)
    """Where the line starts in the input file (a line is read back without parsing the file)."""
    byte_length: Mapped[int | None] = mapped_column(Integer)
