"""Ticket services against real databases (each test runs on SQLite and on PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, inspect, select

from hotline.models import metadata
from tests.factories import SYSTEM, make_agency, make_draft, make_ticket, make_user
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.errors import (
    IllegalTransitionError,
    NotFoundError,
    PermissionDeniedError,
    TicketingError,
    ValidationError,
)
from ticketing.models import AuditEvent, Center, Note, Referral, StatusChange, Ticket
from ticketing.numbers import parse_ticket_number
from ticketing.services import add_note, assign, change_status, merge_duplicate, open_ticket, refer


def row_counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in metadata.sorted_tables
        }


def test_open_ticket_files_a_numbered_audited_complaint(database: Database) -> None:
    opened_at = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    ticket = open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=opened_at)

    number = parse_ticket_number(ticket.number)
    assert number.be_year == 2569
    assert ticket.status == "received"
    assert ticket.caller_phone == "+66812345678"
    assert ticket.citizen_id == "1101700207030"
    assert (ticket.province_code, ticket.district_code) == ("50", "5001")
    assert ticket.due_at is not None and ticket.due_at > opened_at
    with UnitOfWork(database) as uow:
        center = uow.session.get(Center, ticket.center_id)
        assert center is not None and center.code == "50"
        changes = uow.session.scalars(
            select(StatusChange).where(StatusChange.ticket_id == ticket.id)
        ).all()
        assert [(c.from_status, c.to_status) for c in changes] == [(None, "received")]
        audit = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == ticket.number)
        ).one()
        assert audit.action == "ticket.open" and audit.actor_label == "test"
        assert "citizen_id" not in (audit.after or {})
        stored = uow.session.get(Ticket, ticket.id)
        assert stored is not None and stored.created_at == opened_at


@pytest.mark.parametrize("located", [True, False])
def test_an_opened_ticket_comes_back_whole_and_as_stored(database: Database, located: bool) -> None:
    """open_ticket writes the row with Core: the ticket it returns must still have every column
    loaded (a detached ticket cannot load one later) and equal to what the database holds."""
    draft = make_draft() if located else make_draft(province_code=None, district_code=None,
                                                     postal_code=None)  # fmt: skip
    ticket = open_ticket(UnitOfWork(database), draft, SYSTEM)
    state = inspect(ticket)
    columns = {c.key for c in state.mapper.column_attrs}
    assert not (state.unloaded & columns), state.unloaded & columns
    with UnitOfWork(database) as uow:
        stored = uow.session.get(Ticket, ticket.id)
        assert stored is not None
        for name in columns - {"search_text"}:
            assert getattr(ticket, name) == getattr(stored, name), name


def test_withheld_caller_id_on_a_phone_complaint_is_not_an_error(database: Database) -> None:
    ticket = make_ticket(database, channel="phone", caller_phone="anonymous", description="")
    assert ticket.caller_phone is None


def test_ticket_without_location_goes_to_the_central_center(database: Database) -> None:
    ticket = make_ticket(
        database, province_code=None, district_code=None, postal_code=None, citizen_id=None
    )
    with UnitOfWork(database) as uow:
        center = uow.session.get(Center, ticket.center_id)
        assert center is not None and center.kind == "central"


BAD_DRAFTS = {
    "unknown category": {"category_code": "nope"},
    "bad citizen id checksum": {"citizen_id": "1101700207031"},
    "citizen id starting with 9": {"citizen_id": "9101700207030"},
    "bad phone": {"caller_phone": "066123456"},
    "unknown province": {"province_code": "99", "district_code": None, "postal_code": None},
    "district of another province": {"district_code": "1001"},
    "postal code of another district": {"postal_code": "10200"},
    "district without province": {"province_code": None},
    "empty written description": {"description": "   "},
    "huge description": {"description": "ก" * 10_001},
    "unknown channel": {"channel": "pigeon"},
    "unknown priority": {"priority": "asap"},
    "overlong name": {"citizen_name": "ก" * 201},
}


@pytest.mark.parametrize("overrides", BAD_DRAFTS.values(), ids=BAD_DRAFTS.keys())
def test_bad_input_is_refused_and_writes_nothing(
    database: Database, overrides: dict[str, object]
) -> None:
    before = row_counts(database)
    with pytest.raises(ValidationError) as info:
        open_ticket(UnitOfWork(database), make_draft(**overrides), SYSTEM)
    assert info.value.field and info.value.message
    assert row_counts(database) == before


def test_status_changes_follow_the_workflow_and_are_recorded(database: Database) -> None:
    agent = make_user(database, "agent")
    ticket = make_ticket(database)
    for target in ("accepted", "in_progress", "resolved", "closed"):
        ticket = change_status(UnitOfWork(database), ticket.id, target, agent)
    assert ticket.status == "closed" and ticket.closed_at is not None and ticket.resolved_at

    before = row_counts(database)
    with pytest.raises(IllegalTransitionError, match="closed ticket can only be reopened"):
        change_status(UnitOfWork(database), ticket.id, "in_progress", agent)
    with pytest.raises(IllegalTransitionError, match="reason is required"):
        change_status(UnitOfWork(database), ticket.id, "reopened", agent)
    assert row_counts(database) == before

    reopened = change_status(UnitOfWork(database), ticket.id, "reopened", agent, reason="ยังไม่ได้แก้")
    assert reopened.status == "reopened" and reopened.closed_at is None
    with UnitOfWork(database) as uow:
        history = uow.session.scalars(
            select(StatusChange.to_status)
            .where(StatusChange.ticket_id == ticket.id)
            .order_by(StatusChange.id)
        ).all()
    assert history == ["received", "accepted", "in_progress", "resolved", "closed", "reopened"]


def test_notes_assignment_and_permissions(database: Database) -> None:
    agent = make_user(database, "agent")
    other = make_user(database, "agent")
    supervisor = make_user(database, "supervisor")
    ticket = make_ticket(database)

    note = add_note(UnitOfWork(database), ticket.id, "  โทรกลับแจ้งผู้ร้องแล้ว ", agent, is_public=True)
    assert note.body == "โทรกลับแจ้งผู้ร้องแล้ว" and note.is_public

    assert (
        assign(UnitOfWork(database), ticket.id, agent.user_id, agent).assignee_id == agent.user_id
    )
    with pytest.raises(PermissionDeniedError):
        assign(UnitOfWork(database), ticket.id, other.user_id, agent)
    assert (
        assign(UnitOfWork(database), ticket.id, other.user_id, supervisor).assignee_id
        == other.user_id
    )
    with pytest.raises(ValidationError, match="no active staff member"):
        assign(UnitOfWork(database), ticket.id, 999_999, supervisor)
    with pytest.raises(ValidationError):
        add_note(UnitOfWork(database), ticket.id, "   ", agent)
    with pytest.raises(NotFoundError):
        add_note(UnitOfWork(database), 999_999, "note", agent)


def test_refer_sets_deadlines_and_agencies_see_only_their_tickets(database: Database) -> None:
    agent = make_user(database, "agent")
    land_office = make_agency(database)
    police = make_agency(database, name_en="Provincial Police", name_th="ตำรวจภูธรจังหวัด")
    ticket = make_ticket(database)
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)

    referrals = refer(UnitOfWork(database), ticket.id, [land_office.id, police.id], agent)
    assert len(referrals) == 2
    assert all(r.due_at > r.sent_at for r in referrals)
    with UnitOfWork(database) as uow:
        stored = uow.session.get(Ticket, ticket.id)
        assert stored is not None and stored.status == "referred"
        assert uow.session.scalar(select(func.count()).select_from(Referral)) == 2

    with pytest.raises(ValidationError, match="already referred"):
        refer(UnitOfWork(database), ticket.id, [land_office.id], agent)
    with pytest.raises(ValidationError, match="no active agency"):
        refer(UnitOfWork(database), ticket.id, [999_999], agent)

    other_ticket = make_ticket(database)
    land_user = make_user(database, "agency", agency_code=land_office.code)
    add_note(UnitOfWork(database), ticket.id, "กำลังตรวจสอบแนวเขต", land_user)
    with pytest.raises(NotFoundError):
        add_note(UnitOfWork(database), other_ticket.id, "ไม่ควรเห็น", land_user)
    with pytest.raises(PermissionDeniedError):
        change_status(UnitOfWork(database), ticket.id, "resolved", land_user)


def test_merge_duplicate(database: Database) -> None:
    agent = make_user(database, "agent")
    original = make_ticket(database)
    duplicate = make_ticket(database)
    third = make_ticket(database)

    with pytest.raises(ValidationError, match="into itself"):
        merge_duplicate(UnitOfWork(database), original.id, original.id, agent, reason="x")
    with pytest.raises(IllegalTransitionError, match="reason is required"):
        merge_duplicate(UnitOfWork(database), duplicate.id, original.id, agent, reason=" ")

    merged = merge_duplicate(
        UnitOfWork(database), duplicate.id, original.id, agent, reason="ผู้ร้องคนเดิม"
    )
    assert merged.status == "duplicate" and merged.merged_into_id == original.id
    with UnitOfWork(database) as uow:
        notes = uow.session.scalars(select(Note.body).where(Note.ticket_id == original.id)).all()
    assert any(duplicate.number in body for body in notes)

    with pytest.raises(ValidationError, match="itself a duplicate"):
        merge_duplicate(UnitOfWork(database), third.id, duplicate.id, agent, reason="x")
    with pytest.raises(IllegalTransitionError):
        change_status(UnitOfWork(database), duplicate.id, "accepted", agent)


def test_every_service_refuses_bad_input_without_writing(database: Database) -> None:
    agent = make_user(database, "agent")
    ticket = make_ticket(database)
    before = row_counts(database)
    attempts = [
        lambda: change_status(UnitOfWork(database), ticket.id, "flying", agent),
        lambda: change_status(UnitOfWork(database), ticket.id, "duplicate", agent, reason="x"),
        lambda: change_status(UnitOfWork(database), ticket.id, "closed", agent),
        lambda: change_status(UnitOfWork(database), 123_456, "accepted", agent),
        lambda: refer(UnitOfWork(database), ticket.id, [], agent),
        lambda: add_note(UnitOfWork(database), ticket.id, "x" * 10_001, agent),
        lambda: merge_duplicate(UnitOfWork(database), ticket.id, 123_456, agent, reason="x"),
    ]
    for attempt in attempts:
        with pytest.raises(TicketingError):
            attempt()
    assert row_counts(database) == before


def test_32_concurrent_writers_get_32_distinct_valid_numbers(database: Database) -> None:
    numbers: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(32)

    def file_one() -> None:
        try:
            barrier.wait(timeout=30)
            numbers.append(make_ticket(database).number)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=file_one) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(numbers) == 32 and len(set(numbers)) == 32
    for number in numbers:
        parse_ticket_number(number)


def test_referred_and_duplicate_only_through_their_services(database: Database) -> None:
    agent = make_user(database, "agent")
    ticket = make_ticket(database)
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)
    before = row_counts(database)
    with pytest.raises(ValidationError, match="refer the ticket"):
        change_status(UnitOfWork(database), ticket.id, "referred", agent)
    with pytest.raises(ValidationError, match="merge the ticket"):
        change_status(UnitOfWork(database), ticket.id, "duplicate", agent, reason="x")
    assert row_counts(database) == before
