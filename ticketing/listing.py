"""The ticket list: filters, Thai search, sorting and keyset pagination, on SQLite and PostgreSQL.

Pages are cut with a keyset cursor — the sort value and id of the last row shown — never with
OFFSET, so page 500 costs what page 1 costs. Each sort walks an index: ``created_at`` (with
its composite status/province/category indexes) or ``due_at``. Search adds one
``search_text LIKE '%term%'`` per term, served on PostgreSQL by the pg_trgm GIN index.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session, joinedload

from ticketing.deadlines import overdue_tickets
from ticketing.errors import ValidationError
from ticketing.models import Ticket
from ticketing.search import MIN_TERM_LENGTH, like_pattern, search_terms, short_terms
from ticketing.statuses import TicketStatus

PAGE_SIZE = 50
UNASSIGNED: Literal["none"] = "none"


class Sort(StrEnum):
    NEWEST = "newest"
    OLDEST = "oldest"
    DUE_SOONEST = "due"
    DUE_LATEST = "due_desc"


_SORT_COLUMN: dict[Sort, ColumnElement[Any]] = {
    Sort.NEWEST: Ticket.__table__.c.created_at,
    Sort.OLDEST: Ticket.__table__.c.created_at,
    Sort.DUE_SOONEST: Ticket.__table__.c.due_at,
    Sort.DUE_LATEST: Ticket.__table__.c.due_at,
}
_DESCENDING = {Sort.NEWEST, Sort.DUE_LATEST}
_SHOWN_WITH = (joinedload(Ticket.category), joinedload(Ticket.assignee))


@dataclass(frozen=True, slots=True)
class TicketFilter:
    """What the list is narrowed to. Dates are local (Asia/Bangkok) days, both ends included."""

    statuses: tuple[TicketStatus, ...] = ()
    category_id: int | None = None
    province_code: str | None = None
    created_from: date | None = None
    created_to: date | None = None
    assignee: int | Literal["none"] | None = None
    overdue: bool = False
    query: str = ""


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: after the row with this sort value and id."""

    value: datetime
    ticket_id: int

    def encode(self) -> str:
        raw = f"{self.value.isoformat()}|{self.ticket_id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Raises ValidationError for a token this code did not make."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            value, ticket_id = raw.split("|")
            return cls(datetime.fromisoformat(value), int(ticket_id))
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValidationError("not a page of this list", field="after") from None


@dataclass(frozen=True, slots=True)
class TicketPage:
    tickets: list[Ticket]
    next_cursor: Cursor | None
    terms: list[str] = field(default_factory=list)


def list_tickets(
    session: Session,
    filters: TicketFilter,
    *,
    sort: Sort = Sort.NEWEST,
    after: Cursor | None = None,
    now: datetime,
    tz: ZoneInfo,
    limit: int = PAGE_SIZE,
) -> TicketPage:
    """One page of tickets (training tickets never appear), with the cursor of the next.

    Raises:
        ValidationError: a search term is shorter than MIN_TERM_LENGTH characters.
    """
    terms = search_terms(filters.query)
    if short_terms(terms):
        raise ValidationError(f"search terms need at least {MIN_TERM_LENGTH} characters", field="q")
    query = _filtered(filters, terms, now, tz)
    query = _ordered(query, sort, after).limit(limit + 1)
    rows = list(session.scalars(query.options(*_SHOWN_WITH)))
    tickets, more = rows[:limit], len(rows) > limit
    return TicketPage(tickets, _cursor_after(tickets[-1], sort) if more else None, terms)


def _filtered(
    filters: TicketFilter, terms: list[str], now: datetime, tz: ZoneInfo
) -> Select[Ticket]:
    conditions: list[ColumnElement[bool]] = [Ticket.is_training.is_(False)]
    if filters.statuses:
        conditions.append(Ticket.status.in_([s.value for s in filters.statuses]))
    if filters.category_id is not None:
        conditions.append(Ticket.category_id == filters.category_id)
    if filters.province_code:
        conditions.append(Ticket.province_code == filters.province_code)
    if filters.created_from:
        conditions.append(Ticket.created_at >= _start_of(filters.created_from, tz))
    if filters.created_to:
        conditions.append(Ticket.created_at < _start_of(filters.created_to + timedelta(days=1), tz))
    if filters.assignee == UNASSIGNED:
        conditions.append(Ticket.assignee_id.is_(None))
    elif filters.assignee is not None:
        conditions.append(Ticket.assignee_id == filters.assignee)
    if filters.overdue:
        conditions.append(overdue_tickets(now))
    conditions.extend(Ticket.search_text.like(like_pattern(t), escape="\\") for t in terms)
    return select(Ticket).where(*conditions)


def _ordered(query: Select[Ticket], sort: Sort, after: Cursor | None) -> Select[Ticket]:
    column = _SORT_COLUMN[sort]
    descending = sort in _DESCENDING
    if sort in (Sort.DUE_SOONEST, Sort.DUE_LATEST):
        query = query.where(column.is_not(None))  # every ticket gets a deadline when opened
    if after is not None:
        query = query.where(_keyset(column, after, descending))
    if descending:
        return query.order_by(column.desc(), Ticket.id.desc())
    return query.order_by(column.asc(), Ticket.id.asc())


def _keyset(
    column: ColumnElement[datetime], after: Cursor, descending: bool
) -> ColumnElement[bool]:
    """Rows after the cursor: the first part bounds the index scan, the second breaks ties."""
    if descending:
        return and_(column <= after.value, or_(column < after.value, Ticket.id < after.ticket_id))
    return and_(column >= after.value, or_(column > after.value, Ticket.id > after.ticket_id))


def _cursor_after(ticket: Ticket, sort: Sort) -> Cursor:
    value = ticket.created_at if sort in (Sort.NEWEST, Sort.OLDEST) else ticket.due_at
    assert value is not None  # noqa: S101 - due sorts exclude tickets without a deadline
    return Cursor(value, ticket.id)


def _start_of(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(UTC)


def statuses_from(values: Sequence[str]) -> tuple[TicketStatus, ...]:
    """Raises ValidationError naming the first value that is not a status."""
    try:
        return tuple(dict.fromkeys(TicketStatus(v) for v in values if v))
    except ValueError:
        raise ValidationError("not a ticket status", field="status") from None
