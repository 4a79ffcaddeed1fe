"""The usage ledger: one row per generation request, and the reports over it."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from ..errors import safe_text
from ..metering import USAGE_GROUPINGS
from .models import UsageRecord

GROUPINGS = USAGE_GROUPINGS


_TEXT_COLUMNS = {"request_id": 64, "account_id": 64, "key_id": 32, "dialect": 16, "model": 100,
                 "model_resolved": 100, "task": 64, "error_code": 64}
"""Text fields of a usage row and their column widths (store/models.py)."""


@dataclass(frozen=True)
class UsageEntry:
    request_id: str
    account_id: str
    dialect: str
    status: int
    key_id: str | None = None
    model: str | None = None
    model_resolved: str | None = None
    task: str | None = None
    stream: bool = False
    batch: bool = False
    text_tokens: int = 0
    image_tokens: int = 0
    output_tokens: int = 0
    error_code: str | None = None
    latency_ms: float = 0.0
    cost: float = 0.0
    created_at: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        # client-supplied names (a model string can be anything, surrogates included) are
        # stored as printable text within their column's width: a row must always be writable
        for name, width in _TEXT_COLUMNS.items():
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, safe_text(value, width))

    @property
    def input_tokens(self) -> int:
        return self.text_tokens + self.image_tokens

    def row(self) -> dict[str, Any]:
        values = asdict(self)
        values["input_tokens"] = self.input_tokens
        values["day"] = datetime.fromtimestamp(self.created_at, UTC).strftime("%Y-%m-%d")
        return values


@dataclass(frozen=True)
class UsageSummary:
    account_id: str
    group: str | None
    """The ``by`` value (a day, model, task or key id); None without ``by``."""
    requests: int
    failed: int
    input_tokens: int
    text_tokens: int
    image_tokens: int
    output_tokens: int
    cost: float

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


def _entry(row: UsageRecord) -> UsageEntry:
    return UsageEntry(
        request_id=row.request_id, account_id=row.account_id, dialect=row.dialect,
        status=row.status, key_id=row.key_id, model=row.model, model_resolved=row.model_resolved,
        task=row.task, stream=row.stream, batch=row.batch, text_tokens=row.text_tokens,
        image_tokens=row.image_tokens, output_tokens=row.output_tokens,
        error_code=row.error_code, latency_ms=row.latency_ms, cost=row.cost,
        created_at=row.created_at)


def _filters(account_id: str | None, since: float | None,
             until: float | None) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    if account_id is not None:
        conds.append(UsageRecord.account_id == account_id)
    if since is not None:
        conds.append(UsageRecord.created_at >= since)
    if until is not None:
        conds.append(UsageRecord.created_at < until)
    return conds


class UsageRepository:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @staticmethod
    def add(session: Session, entries: Sequence[UsageEntry]) -> None:
        """Insert inside the caller's transaction (a batch line's result and its ledger row
        commit together)."""
        if entries:
            session.execute(insert(UsageRecord), [e.row() for e in entries])

    def add_many(self, entries: Iterable[UsageEntry]) -> None:
        entries = list(entries)
        if entries:
            with self._sessions.begin() as session:
                self.add(session, entries)

    def rows(self, account_id: str | None = None, since: float | None = None,
             until: float | None = None) -> list[UsageEntry]:
        query = (select(UsageRecord).where(*_filters(account_id, since, until))
                 .order_by(UsageRecord.created_at, UsageRecord.id))
        with self._sessions() as session:
            return [_entry(r) for r in session.scalars(query)]

    def summary(self, account_id: str | None = None, since: float | None = None,
                until: float | None = None, by: str | None = None) -> list[UsageSummary]:
        """Totals per account (and per ``by``: day, model, task or key), in SQL."""
        if by is not None and by not in GROUPINGS:
            raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
        column = {"day": UsageRecord.day, "model": UsageRecord.model, "task": UsageRecord.task,
                  "key": UsageRecord.key_id}.get(by or "")
        keys: list[Any] = [UsageRecord.account_id] + ([column] if column is not None else [])
        query = (select(*keys,
                        func.count(),
                        func.sum(case((UsageRecord.status >= 400, 1), else_=0)),
                        func.sum(UsageRecord.input_tokens), func.sum(UsageRecord.text_tokens),
                        func.sum(UsageRecord.image_tokens), func.sum(UsageRecord.output_tokens),
                        func.sum(UsageRecord.cost))
                 .where(*_filters(account_id, since, until))
                 .group_by(*keys).order_by(*keys))
        with self._sessions() as session:
            rows = session.execute(query).all()
        out = []
        for row in rows:
            group = row[1] if column is not None else None
            nums = row[2:] if column is not None else row[1:]
            requests, failed, inp, txt, img, outp = (int(n or 0) for n in nums[:6])
            out.append(UsageSummary(row[0], None if group is None else str(group), requests, failed,
                                    inp, txt, img, outp, float(nums[6] or 0.0)))
        return out


def parse_when(text: str) -> float:
    """``YYYY-MM-DD``, an ISO date-time (UTC unless it names an offset) or epoch seconds."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a date or time: {text!r} (use YYYY-MM-DD, an ISO date-time "
                         "or epoch seconds)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def summary_dict(row: UsageSummary, by: str | None) -> dict[str, Any]:
    """A report row as JSON / CSV fields."""
    out: dict[str, Any] = {"account": row.account_id}
    if by is not None:
        out[by] = row.group
    out.update(requests=row.requests, failed=row.failed, input_tokens=row.input_tokens,
               text_tokens=row.text_tokens, image_tokens=row.image_tokens,
               output_tokens=row.output_tokens, total_tokens=row.total_tokens,
               cost=round(row.cost, 8))
    return out
