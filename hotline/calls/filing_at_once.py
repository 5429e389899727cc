"""Filing a call's complaint on PostgreSQL in one statement, with its call row, link and recording.

The same rows :class:`~hotline.calls.filing.FileStepByStep` writes, by the same rule
(``filing``'s docstring), as data-modifying CTEs of ``ticketing.filing_at_once``'s statement:
the complaint is filed on a webhook Twilio waits for. Chosen once, at wiring time, where the
database is PostgreSQL; a test compares the rows of the two ways.
"""

from __future__ import annotations

from functools import cache
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, Integer, String, Table, bindparam, func, select, union_all, update
from sqlalchemy.dialects.postgresql import insert

from hotline.calls.filing import IVR_ACTOR, RECORDING_UPDATES, CallFiling, CallTickets
from hotline.calls.log import CALL_ROW_COLUMNS
from hotline.calls.models import Call, call_tickets
from recordings.models import Recording
from ticketing.db.engine import Database
from ticketing.db.uow import JobDispatcher, UnitOfWork
from ticketing.filing_at_once import FiledTicket, open_ticket_at_once

RECORDING_COLUMNS = ("sid", "call_sid", "media_url", "state", "source", "channels", "attempts",
                     "created_at", "duration_s")  # fmt: skip


class FileAtOnce:
    """PostgreSQL: the ticket, its status change and audit event, the call row, the link and
    the recording row in one autocommitted statement."""

    def __init__(self, database: Database, jobs: JobDispatcher | None, tz: ZoneInfo) -> None:
        self._database, self._jobs, self._tz = database, jobs, tz

    def file(self, filing: CallFiling) -> FiledTicket:
        recording = filing.recording_row(None)
        values = {f"call_{k}": v for k, v in filing.call_row().items()}
        values.update({f"rec_{k}": v for k, v in (recording or {}).items() if k != "ticket_id"})
        writes = link_with_recording if recording is not None else link_call_only
        uow = UnitOfWork(self._database, self._jobs)
        ticket, (call_id,) = open_ticket_at_once(uow, filing.draft(), IVR_ACTOR, tz=self._tz,
                                                 now=filing.now, external_ref=filing.ref,
                                                 also=writes, also_values=values)  # fmt: skip
        if call_id is None:
            # The call log committed the call row after the statement's snapshot was taken, so
            # the statement could neither insert it nor see it. The ticket and the recording
            # are filed; the link follows in a statement of its own (a new snapshot).
            CallTickets(self._database, self).linked(filing.call_sid, ticket)
        return ticket

    def link(self, call_sid: str, ticket_id: int) -> None:
        """``filing.link_call`` as one autocommitted statement: a recording status callback
        links every complaint call this way, on a webhook Twilio waits for."""
        values = {"link_call_sid": call_sid, "link_ticket_id": ticket_id}
        self._database.execute_alone(link_statement(), [values])


@cache
def link_statement() -> Any:
    """``WITH link AS (INSERT INTO call_tickets SELECT id, :ticket FROM calls WHERE call_sid =
    :sid ON CONFLICT DO NOTHING) UPDATE recordings SET ticket_id = :ticket WHERE call_sid =
    :sid AND ticket_id IS NULL``: the link rule in one statement (the values are bound as
    ``link_call_sid`` and ``link_ticket_id``: an UPDATE keeps its columns' names for itself)."""
    recordings = cast(Table, Recording.__table__)
    ticket_id = bindparam("link_ticket_id", type_=Integer)
    call_sid = bindparam("link_call_sid", type_=String)
    logged = select(Call.id, ticket_id).where(Call.call_sid == call_sid)
    link = (
        insert(call_tickets).from_select(["call_id", "ticket_id"], logged).on_conflict_do_nothing()
    ).cte("link")
    return (
        update(recordings)
        .where(recordings.c.call_sid == call_sid, recordings.c.ticket_id.is_(None))
        .values(ticket_id=ticket_id)
        .add_cte(link)
    )


def link_call_only(ticket: CTE) -> tuple[list[CTE], list[Any]]:
    return call_link_writes(ticket, with_recording=False)


def link_with_recording(ticket: CTE) -> tuple[list[CTE], list[Any]]:
    return call_link_writes(ticket, with_recording=True)


def call_link_writes(ticket: CTE, *, with_recording: bool) -> tuple[list[CTE], list[Any]]:
    """The filing statement's CTEs for the call: ``new_call AS (INSERT … ON CONFLICT DO
    NOTHING RETURNING id), the_call AS (new_call UNION ALL the logged row), link AS (INSERT
    INTO call_tickets …)[, recording AS (INSERT … ON CONFLICT (sid) DO UPDATE …)]``, and the
    call's id as the result's column: NULL when the call row is not visible yet. Values are
    bound as ``call_<column>`` and ``rec_<column>``."""
    calls, recordings = cast(Table, Call.__table__), cast(Table, Recording.__table__)
    call_values = {name: bindparam(f"call_{name}", type_=calls.c[name].type)
                   for name in CALL_ROW_COLUMNS}  # fmt: skip
    new_call = (
        insert(calls).values(call_values).on_conflict_do_nothing().returning(calls.c.id)
    ).cte("new_call")
    existing = select(calls.c.id).where(calls.c.call_sid == bindparam("call_call_sid"))
    the_call = union_all(select(new_call.c.id), existing).cte("the_call")
    link = (
        insert(call_tickets)
        .from_select(["call_id", "ticket_id"], select(the_call.c.id, ticket.c.id))
        .on_conflict_do_nothing()
    ).cte("link")
    ctes = [new_call, the_call, link]
    if with_recording:
        bound = [bindparam(f"rec_{name}", type_=recordings.c[name].type)
                 for name in RECORDING_COLUMNS]  # fmt: skip
        upsert = insert(recordings).from_select(
            ["ticket_id", *RECORDING_COLUMNS], select(ticket.c.id, *bound)
        )
        # The rule: a recording keeps the ticket it has; only its details follow Twilio.
        keep: dict[str, Any] = {name: upsert.excluded[name] for name in RECORDING_UPDATES}
        keep["ticket_id"] = func.coalesce(recordings.c.ticket_id, upsert.excluded.ticket_id)
        recording = upsert.on_conflict_do_update(index_elements=["sid"], set_=keep)
        ctes.append(recording.cte("recording"))
    return ctes, [select(the_call.c.id).scalar_subquery()]
