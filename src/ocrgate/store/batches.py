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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, Select, and_, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from .files import Blob, FileRepository
from .models import Batch, BatchLine
from .usage import UsageEntry, UsageRepository

ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
TERMINAL = ("completed", "failed", "expired", "cancelled")
STATUSES = ACTIVE + TERMINAL
TEST_MODEL = "batch-test-model"


class NotCancellable(ValueError):
    """The batch has already finished (or is finishing) another way."""


class _LeaseLost(Exception):
    """Rolls back a transaction whose guard found the lease gone."""


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
class NewLine:
    """A validated input line: where it is in the input file."""

    line_no: int
    custom_id: str
    offset: int
    length: int


@dataclass(frozen=True)
class LineRef:
    """A line handed to the runner (now ``running``)."""

    batch_id: str
    line_no: int
    custom_id: str
    offset: int
    length: int
    attempts: int


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


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


class BatchRepository:
    def __init__(self, sessions: sessionmaker[Session], files: FileRepository) -> None:
        self._sessions = sessions
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
            taken = _rowcount(session.execute(update(Batch).where(
                Batch.id == batch_id, Batch.status.in_(ACTIVE), or_(*free)).values(
                lease_owner=owner, lease_until=now + lease_s)))
            if taken:
                session.execute(update(BatchLine).where(
                    BatchLine.batch_id == batch_id, BatchLine.status == "running").values(
                    status="pending", updated_at=now))
        return bool(taken)

    def renew(self, batch_id: str, owner: str, lease_s: float) -> bool:
        with self._sessions.begin() as session:
            return bool(_rowcount(session.execute(update(Batch).where(
                Batch.id == batch_id, Batch.lease_owner == owner).values(
                lease_until=time.time() + lease_s))))

    def release(self, batch_id: str, owner: str) -> None:
        """Give the lease back now (a clean stop): another server may go on at once."""
        with self._sessions.begin() as session:
            if _rowcount(session.execute(update(Batch).where(
                    Batch.id == batch_id, Batch.lease_owner == owner).values(
                    lease_owner=None, lease_until=None))):
                session.execute(update(BatchLine).where(
                    BatchLine.batch_id == batch_id, BatchLine.status == "running").values(
                    status="pending"))

    @staticmethod
    def _guard(session: Session, batch_id: str, owner: str, **values: Any) -> None:
        """Lock the batch row for this transaction if ``owner`` holds it, else roll back."""
        done = session.execute(update(Batch).where(Batch.id == batch_id,
                                                   Batch.lease_owner == owner)
                               .values(**(values or {"lease_owner": owner})))
        if not _rowcount(done):
            raise _LeaseLost

    def _owned_txn(self, batch_id: str, owner: str, work: Any, **values: Any) -> bool:
        try:
            with self._sessions.begin() as session:
                self._guard(session, batch_id, owner, **values)
                work(session)
        except _LeaseLost:
            return False
        return True

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
            if not _rowcount(moved):
                raise _LeaseLost  # cancelled meanwhile
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
            if not _rowcount(session.execute(update(Batch).where(
                    Batch.id == batch_id, Batch.status == "validating").values(
                    status="failed", failed_at=time.time(), errors=errors, lease_owner=None,
                    lease_until=None))):
                raise _LeaseLost

        return self._owned_txn(batch_id, owner, work)

    def begin_finalizing(self, batch_id: str, owner: str) -> bool:
        def work(session: Session) -> None:
            if not _rowcount(session.execute(update(Batch).where(
                    Batch.id == batch_id, Batch.status == "in_progress").values(
                    status="finalizing", finalizing_at=time.time()))):
                raise _LeaseLost

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
            if not _rowcount(moved):
                raise _LeaseLost

        return self._owned_txn(batch_id, owner, work)

    # -- the runner's side: lines --------------------------------------------
    def claim_lines(self, batch_id: str, owner: str, n: int) -> list[LineRef]:
        """Up to ``n`` pending lines, in input order, now ``running``."""
        out: list[LineRef] = []

        def work(session: Session) -> None:
            rows = session.execute(select(
                BatchLine.line_no, BatchLine.custom_id, BatchLine.byte_offset,
                BatchLine.byte_length, BatchLine.attempts).where(
                BatchLine.batch_id == batch_id, BatchLine.status == "pending").order_by(
                BatchLine.line_no).limit(n)).all()
            if not rows:
                return
            session.execute(update(BatchLine).where(
                BatchLine.batch_id == batch_id,
                BatchLine.line_no.in_([r.line_no for r in rows])).values(
                status="running", attempts=BatchLine.attempts + 1, updated_at=time.time()))
            out.extend(LineRef(batch_id, r.line_no, r.custom_id, int(r.byte_offset or 0),
                               int(r.byte_length or 0), r.attempts + 1) for r in rows)

        self._owned_txn(batch_id, owner, work)
        return out

    def finish_line(self, line: LineRef, owner: str, succeeded: bool, request_id: str,
                    result: dict[str, Any], usage: UsageEntry | None) -> bool:
        """The line's result, status, the batch's count and the ledger row: all or nothing."""
        counter = Batch.request_completed if succeeded else Batch.request_failed

        def work(session: Session) -> None:
            done = session.execute(update(BatchLine).where(
                BatchLine.batch_id == line.batch_id, BatchLine.line_no == line.line_no,
                BatchLine.status == "running").values(
                status="succeeded" if succeeded else "failed", request_id=request_id,
                result=result, updated_at=time.time()))
            if not _rowcount(done):
                raise _LeaseLost
            if usage is not None:
                UsageRepository.add(session, [usage])

        return self._owned_txn(line.batch_id, owner, work, **{counter.key: counter + 1})

    def retry_line(self, line: LineRef, owner: str, count_attempt: bool) -> bool:
        """``running`` → ``pending`` (a transient refusal: the queue was full, ...)."""
        def work(session: Session) -> None:
            values: dict[str, Any] = {"status": "pending", "updated_at": time.time()}
            if not count_attempt:
                values["attempts"] = BatchLine.attempts - 1
            session.execute(update(BatchLine).where(
                BatchLine.batch_id == line.batch_id, BatchLine.line_no == line.line_no,
                BatchLine.status == "running").values(**values))

        return self._owned_txn(line.batch_id, owner, work)

    def requeue(self, batch_id: str, owner: str) -> bool:
        """Every ``running`` line back to ``pending`` (the owner knows none is in flight)."""
        return self._owned_txn(batch_id, owner, lambda session: session.execute(
            update(BatchLine).where(BatchLine.batch_id == batch_id,
                                    BatchLine.status == "running").values(status="pending")))

    def line_counts(self, batch_id: str) -> dict[str, int]:
        with self._sessions() as session:
            rows = session.execute(select(BatchLine.status, func.count()).where(
                BatchLine.batch_id == batch_id).group_by(BatchLine.status)).all()
        return {str(status): int(n) for status, n in rows}

    def close_pending(self, batch_id: str, owner: str, status: str,
                      result_for: Any) -> bool:
        """Every line not yet run becomes ``status`` (``cancelled``/``expired``) with the
        error line ``result_for(custom_id)``: they go to the error file."""
        def work(session: Session) -> None:
            rows = session.execute(select(BatchLine.line_no, BatchLine.custom_id).where(
                BatchLine.batch_id == batch_id,
                BatchLine.status.in_(("pending", "running")))).all()
            if rows:
                now = time.time()
                session.execute(update(BatchLine), [
                    {"batch_id": batch_id, "line_no": r.line_no, "status": status,
                     "result": result_for(r.custom_id), "updated_at": now} for r in rows])

        return self._owned_txn(batch_id, owner, work)

    def results(self, batch_id: str) -> Iterator[tuple[str, Any]]:
        """(status, result line) of every finished line, in input order."""
        with self._sessions() as session:
            query = (select(BatchLine.status, BatchLine.result)
                     .where(BatchLine.batch_id == batch_id,
                            BatchLine.status.not_in(("pending", "running")))
                     .order_by(BatchLine.line_no).execution_options(yield_per=500))
            for status, result in session.execute(query):
                yield str(status), result
