"""Filing a phone complaint on PostgreSQL in one autocommitted statement.

A complaint is filed in the middle of a call, on a webhook Twilio waits for. The ticket, its
first status change and its audit event (and the caller's writes: the call link, the recording)
are data-modifying CTEs of one statement: one round trip, and no ORM object. The values come
from :mod:`ticketing.filing`, as ``services.open_ticket``'s do, and a test compares the rows
the two ways write. Chosen once, at wiring time, where the database is PostgreSQL.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, ColumnElement, Select, Table, bindparam, insert, select

from ticketing.audit import audit_insert, audit_values
from ticketing.db.base import utcnow
from ticketing.db.uow import UnitOfWork
from ticketing.filing import (
    BANGKOK,
    TicketDraft,
    clean_draft,
    log_opened,
    new_ticket_values,
    snapshot_of,
    status_values,
)
from ticketing.models import (
    Channel,
    StatusChange,
    Ticket,
)
from ticketing.permissions import Action, Actor, require
from ticketing.statuses import TicketStatus

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FiledTicket:
    """A ticket filed by ``open_ticket_at_once``: what its caller needs to know of it."""

    id: int
    number: str


# More writes for the filing statement, given its ``ticket`` CTE (the new row's id): the CTEs
# to run with it and the columns they add to its one result row. The statement is built once
# per TicketWrites and kept: give a module-level function, never a lambda made per call.
TicketWrites = Callable[[CTE], tuple[Sequence[CTE], Sequence[ColumnElement[Any]]]]


def open_ticket_at_once(
    uow: UnitOfWork,
    draft: TicketDraft,
    actor: Actor,
    *,
    tz: ZoneInfo = BANGKOK,
    now: datetime | None = None,
    external_ref: str | None = None,
    also: TicketWrites | None = None,
    also_values: Mapping[str, Any] | None = None,
) -> tuple[FiledTicket, tuple[Any, ...]]:
    """``open_ticket`` for a phone complaint on PostgreSQL, as one autocommitted statement.

    The ticket, its first status change and its audit event (and ``also``'s writes, run with
    ``also_values``) are data-modifying CTEs of one statement: one round trip and no ORM,
    where ``open_ticket`` makes five (BEGIN, three INSERTs, COMMIT), and its ``also`` more,
    and builds the ORM object.
    The IVR files every complaint this way, in the middle of a call. No SMS is queued: the
    caller is asked afterwards whether they want one. The rows written are the ones
    ``open_ticket`` writes (tests compare them). Returns the ticket and ``also``'s columns.

    Raises:
        ValidationError, PermissionDeniedError: as ``open_ticket``.
        IntegrityError: a ticket with this ``external_ref`` exists already.
        ValueError: not a phone complaint, or not on PostgreSQL.
    """
    require(actor, Action.OPEN)
    clean = clean_draft(draft)
    if clean.channel != Channel.PHONE or uow.dialect != "postgresql":
        raise ValueError("open_ticket_at_once files phone complaints on PostgreSQL only")
    opened_at = now or utcnow()
    with uow:  # a serial block and the reference data may need a read
        values = new_ticket_values(uow, clean, actor, opened_at, tz, external_ref)
    status = status_values(None, TicketStatus.RECEIVED, "", actor, opened_at)
    after = snapshot_of(values.__getitem__)
    audit = audit_values(actor, "ticket.open", ("ticket", values["number"]), after=after,
                         at=opened_at)  # fmt: skip
    params = {**_prefixed("t_", values), **_prefixed("s_", status), **_prefixed("a_", audit)}
    extra = also_values or {}
    if params.keys() & extra.keys():
        raise ValueError(f"also_values may not set {sorted(params.keys() & extra.keys())}")
    row = uow.database.fetch_alone(_opening_statement(also), {**params, **extra})
    if row is None:  # the ticket CTE always gives its row
        raise RuntimeError("the filing statement returned no row")
    log_opened(clean, values["number"])
    return FiledTicket(row[0], values["number"]), tuple(row[1:])


def _prefixed(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return {prefix + name: value for name, value in values.items()}


_TICKETS = cast(Table, Ticket.__table__)


@cache
def _opening_statement(also: TicketWrites | None) -> Select[Any]:
    """``WITH ticket AS (INSERT … RETURNING id), status AS (INSERT … SELECT … FROM ticket),
    audit AS (INSERT …)[, also's CTEs] SELECT ticket.id[, also's columns]``; its values are
    bound as ``t_<column>``, ``s_<column>`` and ``a_<column>``. Built once per ``also``."""
    tickets, changes = _TICKETS, cast(Table, StatusChange.__table__)
    ticket_values = {c.name: bindparam(f"t_{c.name}", type_=c.type) for c in tickets.c
                     if c.name != "id"}  # fmt: skip
    ticket = insert(tickets).values(ticket_values).returning(tickets.c.id).cte("ticket")
    status_columns = [c for c in changes.c if c.name not in ("id", "ticket_id")]
    status = (
        insert(changes)
        .from_select(
            ["ticket_id", *(c.name for c in status_columns)],
            select(ticket.c.id, *(bindparam(f"s_{c.name}", type_=c.type) for c in status_columns)),
        )
        .cte("status")
    )
    audit = audit_insert("a_").cte("audit")
    ctes, columns = also(ticket) if also is not None else ((), ())
    return select(ticket.c.id, *columns).add_cte(status, audit, *ctes)
