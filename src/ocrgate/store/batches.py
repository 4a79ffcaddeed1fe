"""Batch jobs (spec §10.3) and their lines: what the Batch API and the runner
(:mod:`ocrgate.batch.runner`) read and change.

A batch is worked on by one server at a time: the one holding its **lease** (``lease_owner``
until ``lease_until``, renewed while it works). Every change the runner makes names the
owner in its ``WHERE`` clause, so a server that lost its lease (it stalled, another took
over) changes nothing any more. A line runs ``pending`` → ``running`` → ``succeeded`` /
``failed``; its result, its status change (only from ``running``), the batch's counts and
its usage-ledger row commit in one transaction. Taking over a batch puts its ``running``
lines back to ``pending`` (their server is gone), so after a crash each line is done, billed
and counted exactly once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from .batch_lines import LeasedLines, LeaseLost, NewLine, rowcount
from .files import Blob, FileRepository
from .models import Batch, BatchLine

ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
TERMINAL = ("completed", "failed", "expired", "cancelled")
STATUSES = ACTIVE + TERMINAL
TEST_MODEL = "batch-test-model"


class NotCancellable(ValueError):
    """The batch has already finished (or is finishing) another way."""


@dataclass(frozen=True)
class BatchInfo:
    id: str
    account_id: str
    key_id: str | None
    endpoint: str
    model: str | None
    input_file_id: str
    output_file_id: str | None
    error_file_id: str | None
    completion_window: str
    status: str
    errors: Any
    metadata: Any
    total: int
    completed: int
    failed: int
    created_at: float
    in_progress_at: float | None
    expires_at: float | None
    finalizing_at: float | None
    completed_at: float | None
    failed_at: float | None
    expired_at: float | None
    cancelling_at: float | None
    cancelled_at: float | None
    lease_owner: str | None
    lease_until: float | None

    def openai_object(self) -> dict[str, Any]:
        """The batch object of spec §10.3 (times as integer epoch seconds)."""
        def t(value: float | None) -> int | None:
            return None if value is None else int(value)

        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "errors": self.errors,
            "input_file_id": self.input_file_id, "completion_window": self.completion_window,
            "status": self.status, "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id, "created_at": int(self.created_at),
            "in_progress_at": t(self.in_progress_at), "expires_at": t(self.expires_at),
            "finalizing_at": t(self.finalizing_at), "completed_at": t(self.completed_at),
            "failed_at": t(self.failed_at), "expired_at": t(self.expired_at),
            "cancelling_at": t(self.cancelling_at), "cancelled_at": t(self.cancelled_at),
            "request_counts": {"total": self.total, "completed": self.completed,
                               "failed": self.failed},
            "metadata": self.metadata,
        }


def _info(row: Batch) -> BatchInfo:
    return BatchInfo(
        row.id, row.account_id, row.key_id, row.endpoint, row.model, row.input_file_id,
        row.output_file_id, row.error_file_id, row.completion_window, row.status, row.errors,
        row.meta, row.request_total, row.request_completed, row.request_failed, row.created_at,
        row.in_progress_at, row.expires_at, row.finalizing_at, row.completed_at, row.failed_at,
        row.expired_at, row.cancelling_at, row.cancelled_at, row.lease_owner, row.lease_until)


@dataclass(frozen=True)
class ListFilter:
    """``GET /batches`` filters (spec §10.3)."""

    statuses: Sequence[str] = ()
    input_file_ids: Sequence[str] = ()
    created_after: float | None = None
    created_before: float | None = None
    name: str | None = None
    """Case-insensitive part of ``metadata.ds_name``."""
    since: float | None = None
    """Only batches created since (the 30-day visibility)."""


class BatchRepository(LeasedLines):
    def __init__(self, sessions: sessionmaker[Session], files: FileRepository) -> None:
        super().__init__(sessions)
        self._files = files

    # -- the API's side ------------------------------------------------------
    def create(self, account_id: str, key_id: str | None, input_file_id: str, endpoint: str,
               completion_window: str, metadata: dict[str, Any] | None) -> BatchInfo:
        row = Batch(id=f"batch_{secrets.token_hex(16)}", account_id=account_id, key_id=key_id,
                    endpoint=endpoint, input_file_id=input_file_id,
                    completion_window=completion_window, status="validating", meta=metadata,
                    request_total=0, request_completed=0, request_failed=0,
                    created_at=time.time())
        with self._sessions.begin() as session:
            session.add(row)
        return _info(row)

    def get(self, account_id: str, batch_id: str, since: float | None = None) -> BatchInfo | None:
        with self._sessions() as session:
            row = session.get(Batch, batch_id)
            if row is None or row.account_id != account_id:
                return None
            if since is not None and row.created_at < since:
                return None
            return _info(row)

    def load(self, batch_id: str) -> BatchInfo | None:
        with self._sessions() as session:
            row = session.get(Batch, batch_id)
            return _info(row) if row else None

    def find(self, account_id: str, filters: ListFilter, limit: int = 20,
             after: str | None = None) -> tuple[list[BatchInfo], bool]:
        """Newest first; (page, has_more). ``after``: the last id of the previous page."""
        query: Select[tuple[Batch]] = select(Batch).where(Batch.account_id == account_id)
        if filters.statuses:
            query = query.where(Batch.status.in_(filters.statuses))
        if filters.input_file_ids:
            query = query.where(Batch.input_file_id.in_(filters.input_file_ids))
        for bound, op in ((filters.created_after, "ge"), (filters.since, "ge"),
                          (filters.created_before, "lt")):
            if bound is not None:
                query = query.where(Batch.created_at >= bound if op == "ge"
                                    else Batch.created_at < bound)
        name = filters.name.lower() if filters.name else None
        out: list[BatchInfo] = []
        with self._sessions() as session:
            if after:
                cursor = session.get(Batch, after)
                if cursor is None or cursor.account_id != account_id:
                    return [], False
                query = query.where(or_(Batch.created_at < cursor.created_at,
                                        and_(Batch.created_at == cursor.created_at,
                                             Batch.id < cursor.id)))
            query = query.order_by(Batch.created_at.desc(), Batch.id.desc())
            for row in session.scalars(query.execution_options(yield_per=200)):
                meta = row.meta if isinstance(row.meta, dict) else {}
                if name is not None and name not in str(meta.get("ds_name", "")).lower():
                    continue  # the fuzzy name filter is done here: portable across backends
                if len(out) == limit:
                    return out, True
                out.append(_info(row))
        return out, False

    def request_cancel(self, account_id: str, batch_id: str) -> BatchInfo | None:
        """``validating``/``in_progress`` → ``cancelling``; a cancelling or cancelled batch is
        returned as it is; None: no such batch; :class:`NotCancellable` otherwise."""
        now = time.time()
        with self._sessions.begin() as session:
            session.execute(update(Batch).where(
                Batch.id == batch_id, Batch.account_id == account_id,
                Batch.status.in_(("validating", "in_progress"))).values(
                status="cancelling", cancelling_at=now))
        info = self.get(account_id, batch_id)
        if info is not None and info.status not in ("cancelling", "cancelled"):
            raise NotCancellable(f"Cannot cancel a batch with status '{info.status}'.")
        return info

    def uses_file(self, account_id: str, file_id: str) -> str | None:
        """The id of an unfinished batch reading ``file_id``, if any."""
        with self._sessions() as session:
            return session.scalar(select(Batch.id).where(
                Batch.account_id == account_id, Batch.input_file_id == file_id,
                Batch.status.in_(ACTIVE)).limit(1))

    def running_test_batches(self, account_id: str, other_than: str) -> int:
        with self._sessions() as session:
            return int(session.scalar(select(func.count()).select_from(Batch).where(
                Batch.account_id == account_id, Batch.model == TEST_MODEL, Batch.id != other_than,
                Batch.status.in_(("in_progress", "finalizing", "cancelling")))) or 0)

    # -- the runner's side: leases -------------------------------------------
    def unfinished(self, limit: int = 100) -> list[BatchInfo]:
        """Batches still to work on, oldest first."""
        with self._sessions() as session:
            rows = session.scalars(select(Batch).where(Batch.status.in_(ACTIVE))
                                   .order_by(Batch.created_at, Batch.id).limit(limit))
            return [_info(r) for r in rows]

    def claim(self, batch_id: str, owner: str, lease_s: float,
              gone_owner: str | None = None) -> bool:
        """Take the lease when it is free, expired, or held by ``gone_owner`` (a server known
        to be dead); the lines its last owner was running go back to ``pending``."""
        now = time.time()
        free = [Batch.lease_owner.is_(None), Batch.lease_until < now]
        if gone_owner:
            free.append(Batch.lease_owner == gone_owner)
        with self._sessions.begin() as session:
            taken = rowcount(session.execute(update(Batch).where(
                Batch.id == batch_id, Batch.status.in_(ACTIVE), or_(*free)).values(
                lease_owner=owner, lease_until=now + lease_s)))
            if taken:
                session.execute(update(BatchLine).where(
                    BatchLine.batch_id == batch_id, BatchLine.status == "running").values(
                    status="pending", updated_at=now))
        return bool(taken)

    def renew(self, batch_id: str, owner: str, lease_s: float) -> bool:
        with self._sessions.begin() as session:
            return bool(rowcount(session.execute(update(Batch).where(
                Batch.id == batch_id, Batch.lease_owner == owner).values(
                lease_until=time.time() + lease_s))))

    def release(self, batch_id: str, owner: str) -> None:
        """Give the lease back now (a clean stop): another server may go on at once."""
        with self._sessions.begin() as session:
            if rowcount(session.execute(update(Batch).where(
                    Batch.id == batch_id, Batch.lease_owner == owner).values(
                    lease_owner=None, lease_until=None))):
                session.execute(update(BatchLine).where(
                    BatchLine.batch_id == batch_id, BatchLine.status == "running").values(
                    status="pending"))

    # -- the runner's side: states -------------------------------------------
    def accept(self, batch_id: str, owner: str, model: str, lines: Sequence[NewLine],
               expires_at: float) -> bool:
        """``validating`` → ``in_progress`` with its lines (one transaction)."""
        now = time.time()

        def work(session: Session) -> None:
            moved = session.execute(update(Batch).where(
                Batch.id == batch_id, Batch.status == "validating").values(
                status="in_progress", in_progress_at=now, expires_at=expires_at, model=model,
                request_total=len(lines)))
            if not rowcount(moved):
                raise LeaseLost  # cancelled meanwhile
            if lines:
                session.execute(insert(BatchLine), [
                    {"batch_id": batch_id, "line_no": ln.line_no, "custom_id": ln.custom_id,
                     "status": "pending", "attempts": 0, "byte_offset": ln.offset,
                     "byte_length": ln.length, "updated_at": now} for ln in lines])

        return self._owned_txn(batch_id, owner, work)

    def set_model(self, batch_id: str, owner: str, model: str | None) -> None:
        self._owned_txn(batch_id, owner, lambda _s: None, model=model)

    def fail(self, batch_id: str, owner: str, errors: dict[str, Any]) -> bool:
        """``validating`` → ``failed`` with the validation ``errors`` (lease released)."""
        def work(session: Session) -> None:
            if not rowcount(session.execute(update(Batch).where(
                    Batch.id == batch_id, Batch.status == "validating").values(
                    status="failed", failed_at=time.time(), errors=errors, lease_owner=None,
                    lease_until=None))):
                raise LeaseLost

        return self._owned_txn(batch_id, owner, work)

    def begin_finalizing(self, batch_id: str, owner: str) -> bool:
        def work(session: Session) -> None:
            if not rowcount(session.execute(update(Batch).where(
                    Batch.id == batch_id, Batch.status == "in_progress").values(
                    status="finalizing", finalizing_at=time.time()))):
                raise LeaseLost

        return self._owned_txn(batch_id, owner, work)

    def finish(self, batch_id: str, owner: str, status: str,
               files: Sequence[tuple[str, str, str, Blob]] = ()) -> bool:
        """The terminal ``status`` with its output/error files — (file id, purpose, filename,
        blob) each, rows inserted here — in one transaction; the lease is released."""
        assert status in TERMINAL
        now = time.time()
        info = self.load(batch_id)
        if info is None:
            return False
        ids = {purpose: file_id for file_id, purpose, _name, _blob in files}

        def work(session: Session) -> None:
            for file_id, purpose, filename, blob in files:
                FileRepository.add_row(session, info.account_id, file_id, purpose, filename,
                                       blob, now)
            moved = session.execute(update(Batch).where(
                Batch.id == batch_id, Batch.status.in_(ACTIVE)).values(
                status=status, output_file_id=ids.get("batch_output"),
                error_file_id=ids.get("batch_error"), lease_owner=None, lease_until=None,
                **{f"{status}_at": now}))
            if not rowcount(moved):
                raise LeaseLost

        return self._owned_txn(batch_id, owner, work)
