"""A phone ticket's links: the call row, the call–ticket link and the caller's recording.

On PostgreSQL they are written by one statement of data-modifying CTEs; on SQLite, and when
that statement cannot see the call row yet, step by step. Both ways must agree.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

import hotline.ivr_actions as ivr_actions
from hotline.callevents import call_row_values
from hotline.calllog import Call, call_tickets
from hotline.ivr_actions import link_call_and_recording
from recordings.models import Recording
from tests.factories import make_ticket
from ticketing.db import Database, UnitOfWork, insert_ignoring_conflicts

AT = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
SID = "CA" + "7" * 32
RECORDED = {"recording_sid": "RE" + "7" * 32, "recording_url": "https://api.twilio.com/r",
            "recording_duration": "9"}  # fmt: skip


def link(db: Database, ticket_id: int, data: dict[str, str]) -> None:
    with UnitOfWork(db) as uow:
        link_call_and_recording(uow.session, SID, "+66812345678", ticket_id, data, AT)
        uow.commit()


def links(db: Database) -> tuple[list[tuple[int, int]], list[Call], list[Recording]]:
    with UnitOfWork(db) as uow:
        pairs = [(row.call_id, row.ticket_id) for row in uow.session.execute(select(call_tickets))]
        calls = list(uow.session.scalars(select(Call)))
        recordings = list(uow.session.scalars(select(Recording)))
        return pairs, calls, recordings


def test_a_call_the_log_has_not_written_yet_is_created_and_linked(database: Database) -> None:
    ticket = make_ticket(database)
    link(database, ticket.id, RECORDED)

    pairs, calls, recordings = links(database)
    assert [c.call_sid for c in calls] == [SID]
    assert calls[0].from_number == "+66812345678" and calls[0].started_at == AT
    assert pairs == [(calls[0].id, ticket.id)]
    assert [(r.sid, r.ticket_id, r.duration_s, r.state) for r in recordings] == [
        (RECORDED["recording_sid"], ticket.id, 9, "pending")
    ]


def test_a_call_already_logged_keeps_its_row(database: Database) -> None:
    with UnitOfWork(database) as uow:
        row = call_row_values(SID, AT, {"from_number": "+66899999999", "to_number": "1567"})
        uow.session.execute(insert_ignoring_conflicts(uow.session, Call.__table__), [row])
        uow.commit()
    ticket = make_ticket(database)
    link(database, ticket.id, {})

    pairs, calls, recordings = links(database)
    assert [(c.call_sid, c.from_number, c.to_number) for c in calls] == [
        (SID, "+66899999999", "1567")
    ]
    assert pairs == [(calls[0].id, ticket.id)] and recordings == []


def test_linking_again_changes_nothing_but_the_recording_details(database: Database) -> None:
    ticket = make_ticket(database)
    link(database, ticket.id, RECORDED)
    link(database, ticket.id, {**RECORDED, "recording_duration": "11"})

    pairs, calls, recordings = links(database)
    assert len(calls) == 1 and pairs == [(calls[0].id, ticket.id)]
    assert [(r.ticket_id, r.duration_s) for r in recordings] == [(ticket.id, 11)]


def test_when_the_one_statement_sees_no_call_the_steps_still_link(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The call log can commit the call row after the statement's snapshot: simulated by a
    statement that finds no call, the step-by-step path must still link everything."""
    nothing = select(Call.id).where(Call.id < 0)
    monkeypatch.setattr(ivr_actions, "_link_in_one_statement", lambda with_recording: nothing)
    ticket = make_ticket(database)
    link(database, ticket.id, RECORDED)

    pairs, calls, recordings = links(database)
    assert len(calls) == 1 and pairs == [(calls[0].id, ticket.id)]
    assert [r.ticket_id for r in recordings] == [ticket.id]
