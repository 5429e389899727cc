"""A phone ticket and its links: the call row, the call–ticket link and the caller's recording.

On PostgreSQL the IVR files all of it (with the ticket's status change and audit event) in one
statement of data-modifying CTEs; on SQLite, ``open_ticket`` and the links step by step. Both
ways must write the same rows, file once whatever is replayed, and link the call even when the
call log commits its row at the same moment.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import CTE, null, select, text
from sqlalchemy.exc import IntegrityError

import hotline.calls.filing_at_once as at_once
from hotline.calls.filing import IVR_ACTOR, CallFiling, CallTickets, FileStepByStep, record_call
from hotline.calls.filing_at_once import FileAtOnce
from hotline.calls.log import CALL_ROW_COLUMNS, call_row_values
from hotline.calls.models import Call, call_tickets
from recordings.models import Recording
from tests.conftest import truncate_all
from tests.factories import make_ticket
from ticketing.db.engine import Database
from ticketing.db.statements import insert_ignoring_conflicts
from ticketing.db.uow import UnitOfWork
from ticketing.filing import TicketDraft
from ticketing.filing_at_once import FiledTicket, open_ticket_at_once
from ticketing.models import AuditEvent, SmsMessage, StatusChange, Ticket
from ticketing.services import open_ticket

AT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
SID = "CA" + "7" * 32
CALLER = "+66812345678"
RECORDED = {"recording_sid": "RE" + "7" * 32, "recording_url": "https://api.twilio.com/r",
            "recording_duration": "9"}  # fmt: skip
COMPLAINT = {"category": "land", "postal_code": "50200", "province_code": "50",
             "district_code": "5001", "citizen_id": "1101700230708"}  # fmt: skip


def runtime_for(db: Database, tmp_path: Path) -> CallTickets:
    """The call's ticket filer as the runtime wires it: in one statement on PostgreSQL."""
    tz = ZoneInfo("Asia/Bangkok")
    filer = FileAtOnce(db, None, tz) if db.dialect == "postgresql" else FileStepByStep(db, None, tz)
    return CallTickets(db, filer)


def file_ticket_for_call(
    tickets: CallTickets,
    sid: str,
    caller: str,
    data: dict[str, str],
    at: datetime,
    *,
    look_first: bool = False,
) -> FiledTicket:
    return tickets.file_for_call(CallFiling(sid, caller, data, at), look_first=look_first)


def links(db: Database) -> tuple[list[tuple[int, int]], list[Call], list[Recording]]:
    with UnitOfWork(db) as uow:
        pairs = [(row.call_id, row.ticket_id) for row in uow.session.execute(select(call_tickets))]
        calls = list(uow.session.scalars(select(Call)))
        recordings = list(uow.session.scalars(select(Recording)))
        return pairs, calls, recordings


def log_call(db: Database, from_number: str) -> None:
    with UnitOfWork(db) as uow:
        row = call_row_values(SID, AT, {"from_number": from_number, "to_number": "1567"})
        uow.session.execute(insert_ignoring_conflicts(uow.session, Call.__table__), [row])
        uow.commit()


def test_a_call_the_log_has_not_written_yet_is_created_and_linked(
    database: Database, tmp_path: Path
) -> None:
    ticket = file_ticket_for_call(runtime_for(database, tmp_path), SID, CALLER,
                                  {**COMPLAINT, **RECORDED}, AT)  # fmt: skip

    pairs, calls, recordings = links(database)
    assert [c.call_sid for c in calls] == [SID]
    assert calls[0].from_number == CALLER and calls[0].started_at == AT
    assert pairs == [(calls[0].id, ticket.id)]
    assert [(r.sid, r.ticket_id, r.duration_s, r.state, r.call_sid) for r in recordings] == [
        (RECORDED["recording_sid"], ticket.id, 9, "pending", SID)
    ]
    with UnitOfWork(database) as uow:
        stored = uow.session.get(Ticket, ticket.id)
        assert stored is not None and stored.number == ticket.number
        assert (stored.channel, stored.external_ref, stored.caller_phone) == (
            "phone",
            f"ivr:{SID}",
            CALLER,
        )


def test_a_call_already_logged_keeps_its_row(database: Database, tmp_path: Path) -> None:
    log_call(database, "+66899999999")
    ticket = file_ticket_for_call(runtime_for(database, tmp_path), SID, CALLER, COMPLAINT, AT)

    pairs, calls, recordings = links(database)
    assert [(c.call_sid, c.from_number, c.to_number) for c in calls] == [
        (SID, "+66899999999", "1567")
    ]
    assert pairs == [(calls[0].id, ticket.id)] and recordings == []


def test_filing_again_finds_the_first_ticket_and_writes_nothing(
    database: Database, tmp_path: Path
) -> None:
    rt = runtime_for(database, tmp_path)
    first = file_ticket_for_call(rt, SID, CALLER, {**COMPLAINT, **RECORDED}, AT)
    again = file_ticket_for_call(rt, SID, CALLER, {**COMPLAINT, **RECORDED}, AT)
    late = file_ticket_for_call(rt, SID, CALLER, COMPLAINT, AT, look_first=True)

    assert first == again == late
    pairs, calls, recordings = links(database)
    assert len(calls) == 1 and pairs == [(calls[0].id, first.id)] and len(recordings) == 1
    with UnitOfWork(database) as uow:
        assert len(uow.session.scalars(select(Ticket)).all()) == 1
        assert len(uow.session.scalars(select(StatusChange)).all()) == 1
        audit = uow.session.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.open"))
        assert len(audit.all()) == 1


def test_linking_again_changes_nothing_but_the_recording_details(database: Database) -> None:
    ticket = make_ticket(database)
    for duration in ("9", "11"):
        with UnitOfWork(database) as uow:
            data = {**RECORDED, "recording_duration": duration}
            record_call(uow.session, CallFiling(SID, CALLER, data, AT), ticket.id)
            uow.commit()

    pairs, calls, recordings = links(database)
    assert len(calls) == 1 and pairs == [(calls[0].id, ticket.id)]
    assert [(r.ticket_id, r.duration_s) for r in recordings] == [(ticket.id, 11)]


def test_when_the_statement_cannot_see_the_call_a_second_transaction_links_it(
    pg: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call log can commit the call row after the filing statement's snapshot: the
    statement then neither inserts nor sees it. Simulated by link writes that give no call;
    the ticket and recording must be filed and the call linked right after."""
    log_call(pg, CALLER)

    def blind(ticket: CTE) -> tuple[list[CTE], list[Any]]:
        ctes, _ = at_once.call_link_writes(ticket, with_recording=True)
        return [cte for cte in ctes if cte.name == "recording"], [null()]

    monkeypatch.setattr(at_once, "link_with_recording", blind)
    data = {**COMPLAINT, **RECORDED}
    ticket = file_ticket_for_call(runtime_for(pg, tmp_path), SID, CALLER, data, AT)

    pairs, calls, recordings = links(pg)
    assert len(calls) == 1 and pairs == [(calls[0].id, ticket.id)]
    assert [r.ticket_id for r in recordings] == [ticket.id]


def test_a_link_lost_in_the_race_is_made_by_the_next_path_to_find_the_ticket(
    pg: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the link after a raced filing fails, the ticket still stands (the webhook does not
    fail) and the recording's status callback, which finds the ticket, links the call."""
    log_call(pg, CALLER)
    rt = runtime_for(pg, tmp_path)

    def blind(ticket: CTE) -> tuple[list[CTE], list[Any]]:
        return [], [null()]

    def down(*_args: Any) -> None:
        raise OSError("database went away")

    monkeypatch.setattr(at_once, "link_call_only", blind)
    with monkeypatch.context() as broken:
        broken.setattr(pg, "execute_alone", down)
        ticket = file_ticket_for_call(rt, SID, CALLER, COMPLAINT, AT)
    assert links(pg)[0] == []

    found = file_ticket_for_call(rt, SID, CALLER, COMPLAINT, AT, look_first=True)
    pairs, calls, _ = links(pg)
    assert found == ticket and pairs == [(calls[0].id, ticket.id)]


def test_the_one_statement_writes_what_open_ticket_writes(pg: Database) -> None:
    """Same draft, same moment: the ticket, its status change and its audit event agree
    column for column with open_ticket's (but for ids, the number and the reference)."""
    draft = TicketDraft(channel="phone", category_code="land", caller_phone=CALLER,
                        citizen_id="1101700230708", province_code="50", district_code="5001",
                        postal_code="50200")  # fmt: skip
    at_once, extra = open_ticket_at_once(UnitOfWork(pg), draft, IVR_ACTOR, now=AT,
                                         external_ref="ivr:one")  # fmt: skip
    usual = open_ticket(UnitOfWork(pg), draft, IVR_ACTOR, now=AT, external_ref="ivr:two")

    assert extra == ()
    differ = {"id", "number", "serial", "external_ref", "search_text"}
    with UnitOfWork(pg) as uow:
        one, two = (uow.session.get(Ticket, t.id) for t in (at_once, usual))
        assert one is not None and two is not None and one.number == at_once.number
        columns = [c.name for c in Ticket.__table__.c if c.name not in differ]
        assert {c: getattr(one, c) for c in columns} == {c: getattr(two, c) for c in columns}
        assert one.search_text == two.search_text.replace(two.number, one.number)
        changes = [uow.session.scalars(select(StatusChange).where(StatusChange.ticket_id == t.id))
                   .one() for t in (one, two)]  # fmt: skip
        assert _row(changes[0], {"id", "ticket_id"}) == _row(changes[1], {"id", "ticket_id"})
        audits = [uow.session.scalars(select(AuditEvent).where(AuditEvent.entity_id == t.number))
                  .one() for t in (one, two)]  # fmt: skip
        assert audits[0].after == {**(audits[1].after or {}), "number": one.number}
        assert _row(audits[0], {"id", "entity_id", "after"}) == _row(
            audits[1], {"id", "entity_id", "after"}
        )
        # JSON null, as the ORM writes None, not SQL NULL; and no SMS from either way
        sql_nulls = "SELECT count(*) FROM audit_events WHERE before IS NULL OR after IS NULL"
        assert uow.session.scalar(text(sql_nulls)) == 0
        assert uow.session.scalars(select(SmsMessage)).all() == []


def test_a_duplicate_reference_is_an_integrity_error_and_writes_nothing(pg: Database) -> None:
    draft = TicketDraft(channel="phone", category_code="land", caller_phone=CALLER)
    open_ticket_at_once(UnitOfWork(pg), draft, IVR_ACTOR, now=AT, external_ref="ivr:x")
    with pytest.raises(IntegrityError):
        open_ticket_at_once(UnitOfWork(pg), draft, IVR_ACTOR, now=AT,
                            external_ref="ivr:x")  # fmt: skip
    with UnitOfWork(pg) as uow:
        assert len(uow.session.scalars(select(Ticket)).all()) == 1
        assert len(uow.session.scalars(select(StatusChange)).all()) == 1
        assert len(uow.session.scalars(select(AuditEvent)).all()) == 1


def test_also_values_may_not_replace_the_tickets_own(pg: Database) -> None:
    draft = TicketDraft(channel="phone", category_code="land", caller_phone=CALLER)
    with pytest.raises(ValueError, match="t_status"):
        open_ticket_at_once(UnitOfWork(pg), draft, IVR_ACTOR, now=AT,
                            also_values={"t_status": "closed"})  # fmt: skip
    with UnitOfWork(pg) as uow:
        assert uow.session.scalars(select(Ticket)).all() == []


def test_only_phone_complaints_on_postgresql_are_filed_at_once(database: Database) -> None:
    refused = (
        TicketDraft(channel="phone", category_code="land", caller_phone=CALLER)
        if database.dialect == "sqlite"
        else TicketDraft(channel="walk_in", category_code="land", description="ถนนชำรุด")
    )
    with pytest.raises(ValueError, match="phone complaints on PostgreSQL"):
        open_ticket_at_once(UnitOfWork(database), refused, IVR_ACTOR, now=AT)
    with UnitOfWork(database) as uow:
        assert uow.session.scalars(select(Ticket)).all() == []


@pytest.fixture
def pg(pg_database: Database) -> Iterator[Database]:
    """PostgreSQL alone, emptied: what only the one-statement filing does."""
    truncate_all(pg_database)
    yield pg_database
    truncate_all(pg_database)


def _row(obj: object, leave_out: set[str]) -> dict[str, Any]:
    table = type(obj).__table__  # type: ignore[attr-defined]
    return {c.name: getattr(obj, c.name) for c in table.c if c.name not in leave_out}


def test_the_new_rows_name_every_column_the_statement_binds() -> None:
    """The one-statement filing binds the call and recording columns by name: the rows both
    ways write must have exactly those columns."""
    assert tuple(call_row_values(SID, AT, {})) == CALL_ROW_COLUMNS
    recording = CallFiling(SID, CALLER, RECORDED, AT).recording_row(1)
    assert recording is not None
    assert set(recording) == {"ticket_id", *at_once.RECORDING_COLUMNS}


def test_a_recording_keeps_the_first_ticket_it_was_given(database: Database) -> None:
    """The link rule: a replayed or late filing never moves a recording to another ticket."""
    first, second = make_ticket(database), make_ticket(database)
    for ticket in (first, second):
        with UnitOfWork(database) as uow:
            record_call(uow.session, CallFiling(SID, CALLER, RECORDED, AT), ticket.id)
            uow.commit()
    pairs, calls, recordings = links(database)
    assert sorted(pairs) == [(calls[0].id, first.id), (calls[0].id, second.id)]
    assert [r.ticket_id for r in recordings] == [first.id]


def test_both_filers_link_by_the_same_rule(database: Database, tmp_path: Path) -> None:
    """A late link (the recording's status callback finds the ticket filed earlier): the call
    gets the link once, and the call's recordings with no ticket yet get this one."""
    tickets = runtime_for(database, tmp_path)
    ticket, other = make_ticket(database), make_ticket(database)
    log_call(database, CALLER)
    with UnitOfWork(database) as uow:  # an agent-leg recording of the call, no ticket yet
        uow.session.add(Recording(sid="RE" + "8" * 32, call_sid=SID, state="pending"))
        uow.session.add(Recording(sid="RE" + "9" * 32, call_sid=SID, state="pending",
                                  ticket_id=other.id))  # fmt: skip
        uow.commit()
    filed = FiledTicket(ticket.id, ticket.number)
    for _ in range(2):  # idempotent
        assert tickets.linked(SID, filed) == filed
    pairs, calls, recordings = links(database)
    assert pairs == [(calls[0].id, ticket.id)]
    assert sorted((r.sid, r.ticket_id) for r in recordings) == [
        ("RE" + "8" * 32, ticket.id),
        ("RE" + "9" * 32, other.id),
    ]
