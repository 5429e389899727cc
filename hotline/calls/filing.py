"""Filing a call's complaint, and the one rule that links calls and recordings to tickets.

The rule: a call is linked to every ticket filed for it, once; a recording belongs to the
first ticket its call gets and is never moved to another. The IVR, the desk (a ticket opened
during a call) and the recording fetch job all link through :func:`link_call` (the IVR's
one-statement filing on PostgreSQL writes the same rows, see ``filing_at_once``).

A complaint is filed once per call whatever is replayed: its ``external_ref`` is unique
(``ivr:<CallSid>``), so a second filing is refused by the database and finds the first.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.calls.log import call_row_values
from hotline.calls.models import Call, call_tickets
from recordings.models import Recording
from ticketing.db.engine import Database
from ticketing.db.statements import insert_for_dialect, insert_ignoring_conflicts, upsert_statement
from ticketing.db.uow import JobDispatcher, UnitOfWork
from ticketing.filing import TicketDraft
from ticketing.filing_at_once import FiledTicket
from ticketing.models import Ticket
from ticketing.permissions import Actor
from ticketing.services import open_ticket

log = logging.getLogger(__name__)
IVR_ACTOR = Actor.system("ivr")
# The recording row's columns a replayed or late filing may change: its duration as Twilio
# reports it. Its ticket is set only while it has none (the rule above).
RECORDING_UPDATES = ("duration_s",)


@dataclass(frozen=True, slots=True)
class CallFiling:
    """A complaint to file for a call: who called, when, and what the IVR gathered."""

    call_sid: str
    caller: str | None  # E.164, or None when the caller ID is withheld
    data: Mapping[str, str]  # the IVR state's data: category, location, citizen ID, recording
    now: datetime

    @property
    def ref(self) -> str:
        """The ticket's ``external_ref``: one ticket per call."""
        return f"ivr:{self.call_sid}"

    def draft(self) -> TicketDraft:
        data = self.data
        return TicketDraft(
            channel="phone",
            category_code=data.get("category", "other"),
            description=data.get("description", ""),  # e.g. a note that the place is unknown
            caller_phone=self.caller,
            citizen_id=data.get("citizen_id"),
            province_code=data.get("province_code"),
            district_code=data.get("district_code"),
            postal_code=data.get("postal_code"),
            is_training=data.get("training") == "1",
        )

    def call_row(self) -> dict[str, Any]:
        """The call's row, for when the call log has not written it yet."""
        info = {"from_number": self.caller, "from_raw": self.caller or ""}
        return call_row_values(self.call_sid, self.now, info)

    def recording_row(self, ticket_id: int | None) -> dict[str, Any] | None:
        """The caller's recorded complaint, as the <Record> action described it, if any."""
        sid = self.data.get("recording_sid")
        if not sid:
            return None
        duration = self.data.get("recording_duration", "")
        return {"sid": sid, "call_sid": self.call_sid, "ticket_id": ticket_id,
                "media_url": self.data.get("recording_url", ""), "state": "pending",
                "source": "RecordVerb", "channels": 1, "attempts": 0, "created_at": self.now,
                "duration_s": int(duration) if duration.isdecimal() else None}  # fmt: skip


class CallFiler(Protocol):
    """Files a call's complaint with its call row, link and recording; raises IntegrityError
    when the call's ticket exists already."""

    def file(self, filing: CallFiling) -> FiledTicket: ...

    def link(self, call_sid: str, ticket_id: int) -> None:
        """``link_call`` as a transaction of its own."""
        ...


class FileStepByStep:
    """``open_ticket`` through the ORM, with the call and its recording linked in the ticket's
    own transaction. Any database; the embedded default (SQLite) files this way."""

    def __init__(self, database: Database, jobs: JobDispatcher | None, tz: ZoneInfo) -> None:
        self._database, self._jobs, self._tz = database, jobs, tz

    def file(self, filing: CallFiling) -> FiledTicket:
        def link(session: Session, ticket: Ticket) -> None:
            record_call(session, filing, ticket.id)

        ticket = open_ticket(UnitOfWork(self._database, self._jobs), filing.draft(), IVR_ACTOR,
                             tz=self._tz, now=filing.now, external_ref=filing.ref,
                             also=link)  # fmt: skip
        return FiledTicket(ticket.id, ticket.number)

    def link(self, call_sid: str, ticket_id: int) -> None:
        with UnitOfWork(self._database) as uow:
            link_call(uow.session, call_sid, ticket_id)
            uow.commit()


class CallTickets:
    """The ticket of a call: filed now, or found if it was filed already, always linked."""

    def __init__(self, database: Database, filer: CallFiler) -> None:
        self._database = database
        self._filer = filer

    def file_for_call(self, filing: CallFiling, *, look_first: bool = False) -> FiledTicket:
        """Both the <Record> action and the recording status callback call this, so a caller
        who hangs up right after speaking still gets a ticket. The action usually comes first
        and files at once; the callback, usually second, looks first (``look_first``). Either
        way the unique ``external_ref`` lets only one of them file."""
        if look_first:
            existing = self._ticket_by_ref(filing.ref)
            if existing is not None:
                return self.linked(filing.call_sid, existing)
        try:
            return self._filer.file(filing)
        except IntegrityError:  # the other path filed it a moment ago
            found = self._ticket_by_ref(filing.ref)
            if found is None:
                raise
            return self.linked(filing.call_sid, found)

    def linked(self, call_sid: str, ticket: FiledTicket) -> FiledTicket:
        """Link the call to a ticket filed earlier, if the call log has its row (idempotent).
        A filing links its own call, except when it raced the call log's first write; then
        this does, or, if it fails, the next path to find the ticket (a replay, the
        recording's status callback). It never fails the webhook: the ticket is filed."""
        try:
            self._filer.link(call_sid, ticket.id)
        except Exception:
            log.exception("could not link a call to ticket %s", ticket.number)
        return ticket

    def _ticket_by_ref(self, ref: str) -> FiledTicket | None:
        with UnitOfWork(self._database) as uow:
            query = select(Ticket.id, Ticket.number).where(Ticket.external_ref == ref)
            row = uow.session.execute(query).first()
            return None if row is None else FiledTicket(row.id, row.number)


# The rule ----------------------------------------------------------------------------------


def record_call(session: Session, filing: CallFiling, ticket_id: int) -> None:
    """In the ticket's own transaction: the call row (if the call log is behind), the caller's
    recording row, and the link (each idempotent)."""
    session.execute(insert_ignoring_conflicts(session, Call.__table__), [filing.call_row()])
    recording = filing.recording_row(ticket_id)
    if recording is not None:
        upsert = upsert_statement(session, Recording.__table__, "sid", list(RECORDING_UPDATES))
        session.execute(upsert, [recording])
    link_call(session, filing.call_sid, ticket_id)


def link_call(session: Session, call_sid: str, ticket_id: int) -> None:
    """Link a logged call to a ticket (nothing if the call log has no row for it yet, or the
    link exists), and give the call's recordings that belong to no ticket to this one."""
    logged = select(Call.id, bindparam("ticket_id", type_=Integer)).where(
        Call.call_sid == bindparam("call_sid")
    )
    insert = insert_for_dialect(session.get_bind().dialect.name)(call_tickets)
    link = insert.from_select(["call_id", "ticket_id"], logged).on_conflict_do_nothing()
    session.execute(link, {"call_sid": call_sid, "ticket_id": ticket_id})
    session.execute(
        update(Recording)
        .where(Recording.call_sid == call_sid, Recording.ticket_id.is_(None))
        .values(ticket_id=ticket_id)
    )


def link_stored_recording(uow: UnitOfWork, sid: str) -> None:
    """A recording fetched after its call's ticket was filed (an agent's call, say) belongs to
    the call's first ticket."""
    with uow:
        row = uow.session.scalars(select(Recording).where(Recording.sid == sid)).first()
        if row is None or row.ticket_id is not None:
            return
        tickets = call_tickets
        ticket_id = uow.session.scalars(
            select(tickets.c.ticket_id)
            .join(Call, Call.id == tickets.c.call_id)
            .where(Call.call_sid == row.call_sid)
            .order_by(tickets.c.ticket_id)
        ).first()
        if ticket_id is not None:
            link_call(uow.session, row.call_sid, ticket_id)
            uow.commit()
