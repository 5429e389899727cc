"""Agencies act on what was referred to them: progress, answer, send back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import make_agency, make_ticket, make_user
from tests.integration.test_ticket_services import row_counts
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.errors import NotFoundError, ValidationError
from ticketing.models import Note, Referral, Ticket
from ticketing.referrals import answer, post_progress, send_back
from ticketing.services import change_status, refer


def referred(database: Database, agencies: int = 1) -> tuple[Ticket, list[Referral], list[int]]:
    agent = make_user(database, "agent")
    ticket = make_ticket(database)
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)
    ids = [make_agency(database).id for _ in range(agencies)]
    return ticket, refer(UnitOfWork(database), ticket.id, ids, agent), ids


def status_of(database: Database, ticket_id: int) -> str:
    with UnitOfWork(database) as uow:
        ticket = uow.session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket.status


def test_an_agency_posts_progress_then_answers(database: Database) -> None:
    ticket, [referral], [agency_id] = referred(database)
    from ticketing.models import Agency

    with UnitOfWork(database) as uow:
        agency = uow.session.get(Agency, agency_id)
        assert agency is not None
        code = agency.code
    officer = make_user(database, "agency", agency_code=code)
    assert (
        post_progress(UnitOfWork(database), referral.id, "ลงพื้นที่ตรวจสอบแล้ว", officer).status
        == "in_progress"
    )
    done = answer(UnitOfWork(database), referral.id, "ดำเนินการรังวัดใหม่เรียบร้อย", officer)
    assert done.status == "answered" and done.answered_at and done.response.startswith("ดำเนินการ")
    with UnitOfWork(database) as uow:
        notes = uow.session.scalars(select(Note).where(Note.ticket_id == ticket.id)).all()
    assert len(notes) == 2 and all(n.is_public for n in notes)
    with pytest.raises(ValidationError, match="already answered"):
        answer(UnitOfWork(database), referral.id, "again", officer)


def test_another_agency_cannot_see_it_and_nothing_is_written(database: Database) -> None:
    _, [referral], _ = referred(database)
    stranger = make_user(database, "agency", agency_code=make_agency(database).code)
    agent = make_user(database, "agent")
    before = row_counts(database)
    with pytest.raises(NotFoundError):
        answer(UnitOfWork(database), referral.id, "ไม่ใช่ของเรา", stranger)
    with pytest.raises(ValidationError):
        post_progress(UnitOfWork(database), referral.id, "   ", agent)
    assert row_counts(database) == before


def test_sending_back_returns_the_ticket_to_the_center_when_no_one_else_holds_it(
    database: Database,
) -> None:
    ticket, [first, second], _ = referred(database, agencies=2)
    agent = make_user(database, "agent")
    send_back(UnitOfWork(database), first.id, "ไม่อยู่ในอำนาจหน้าที่", agent)
    assert status_of(database, ticket.id) == "referred"  # the second agency still has it
    send_back(UnitOfWork(database), second.id, "ไม่อยู่ในอำนาจหน้าที่เช่นกัน", agent)
    assert status_of(database, ticket.id) == "accepted"


def test_agency_turnaround_counts_answers_not_referrals_sent_back(database: Database) -> None:
    """Hand-computed: 4 sent; 1 answered after 48 h; 1 sent back; 1 open past due; 1 not due."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from hotline.metrics.tickets import TicketScope, referral_turnaround

    agent, officer = make_user(database, "agent"), make_user(database, "agent")
    agency = make_agency(database)
    sent = datetime(2026, 11, 2, 3, 0, tzinfo=UTC)
    referrals = []
    for _ in range(4):
        ticket = make_ticket(database)
        change_status(UnitOfWork(database), ticket.id, "accepted", agent)
        referrals += refer(UnitOfWork(database), ticket.id, [agency.id], agent, now=sent)
    answered, returned, _past_due, not_due = referrals
    answer(UnitOfWork(database), answered.id, "ดำเนินการแล้ว", officer)
    send_back(UnitOfWork(database), returned.id, "ไม่อยู่ในอำนาจหน้าที่", officer)
    with UnitOfWork(database) as uow:
        uow.session.execute(update(Referral).where(Referral.id == answered.id)
                            .values(answered_at=sent + timedelta(hours=48)))  # fmt: skip
        uow.session.execute(update(Referral).where(Referral.id == not_due.id)
                            .values(due_at=sent + timedelta(days=90)))  # fmt: skip
        uow.commit()
    now = sent + timedelta(days=60)
    scope = TicketScope(start=sent - timedelta(days=1), end=now)
    with UnitOfWork(database) as uow:
        [figures] = referral_turnaround(uow.session, scope, now)
    assert (figures.agency_id, figures.sent, figures.answered, figures.overdue) == (
        agency.id, 4, 1, 1,
    )  # fmt: skip
    assert figures.average_hours == 48.0
