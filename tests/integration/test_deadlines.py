"""Deadline reminders and escalations on a fixed clock: once each, to the right people, audited."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from flask import Flask
from redis import Redis
from sqlalchemy import func, select

from hotline.background.worker import Housekeeper
from hotline.cli import main
from tests.factories import SYSTEM, make_agency, make_draft, make_ticket, make_user
from tests.voice import REDIS_URL
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.deadlines import (
    DeadlineReport,
    is_overdue,
    overdue_referrals,
    overdue_tickets,
    reminder_time,
    run_deadline_checks,
)
from ticketing.models import Alert, AuditEvent, Referral, SmsMessage, Ticket, User
from ticketing.permissions import Actor
from ticketing.referrals import answer
from ticketing.services import assign, change_status, open_ticket, refer

BANGKOK = ZoneInfo("Asia/Bangkok")
SENT = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)  # Tuesday 10:00 in Bangkok


def run(database: Database, now: datetime) -> DeadlineReport:
    return run_deadline_checks(UnitOfWork(database), now=now, tz=BANGKOK, remind_days=2)


def alerts(database: Database) -> list[tuple[str, int, int | None]]:
    with UnitOfWork(database) as uow:
        rows = uow.session.scalars(select(Alert).order_by(Alert.id))
        return [(a.kind, a.user_id, a.referral_id) for a in rows]


def audits(database: Database, action: str) -> int:
    with UnitOfWork(database) as uow:
        query = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        return int(uow.session.scalar(query) or 0)


def referral_setup(database: Database) -> tuple[Referral, dict[str, int]]:
    agent = make_user(database, "agent")
    supervisor = make_user(database, "supervisor", center_code="50")
    elsewhere = make_user(database, "supervisor", center_code="10")
    agency = make_agency(database, contact_phone="053 112 233")
    officer = make_user(database, "agency", agency_code=agency.code)
    ticket = make_ticket(database)
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)
    assign(UnitOfWork(database), ticket.id, agent.user_id, agent)
    [referral] = refer(UnitOfWork(database), ticket.id, [agency.id], agent, now=SENT)
    people = {"agent": agent.user_id, "supervisor": supervisor.user_id,
              "elsewhere": elsewhere.user_id, "officer": officer.user_id}  # fmt: skip
    return referral, {k: v for k, v in people.items() if v is not None}


def test_a_referral_is_reminded_once_then_escalated_once(database: Database) -> None:
    referral, people = referral_setup(database)
    with UnitOfWork(database) as uow:  # the ticket's own deadline is not what this test is about
        ticket = uow.session.get(Ticket, referral.ticket_id)
        assert ticket is not None
        ticket.due_at = referral.due_at + timedelta(days=60)
        number = ticket.number
        uow.commit()
    start = reminder_time(referral.due_at, 2, set(), BANGKOK)

    assert run(database, start - timedelta(minutes=1)) == DeadlineReport(0, 0, 0, 0)
    assert run(database, start) == DeadlineReport(reminded=1, escalated=0, alerts=2, sms=1)
    assert sorted(alerts(database)) == sorted(
        [("reminder", people["officer"], referral.id), ("reminder", people["agent"], referral.id)]
    )
    assert run(database, start + timedelta(hours=5)) == DeadlineReport(0, 0, 0, 0)  # once
    with UnitOfWork(database) as uow:
        [sms] = uow.session.scalars(
            select(SmsMessage).where(SmsMessage.kind == "referral_reminder")
        )
        assert sms.to_number == "+6653112233" and number in sms.body

    late = referral.due_at + timedelta(seconds=1)
    assert run(database, late) == DeadlineReport(reminded=0, escalated=1, alerts=1, sms=0)
    assert ("escalation", people["supervisor"], referral.id) in alerts(database)
    assert ("escalation", people["elsewhere"], referral.id) not in alerts(database)
    assert run(database, late + timedelta(days=3)) == DeadlineReport(0, 0, 0, 0)
    assert audits(database, "referral.remind") == 1 and audits(database, "referral.escalate") == 1


def test_an_answered_referral_is_neither_reminded_nor_escalated(database: Database) -> None:
    referral, people = referral_setup(database)
    with UnitOfWork(database) as uow:
        officer = Actor.for_user(uow.session.get_one(User, people["officer"]))
    answer(UnitOfWork(database), referral.id, "ดำเนินการแล้ว", officer)
    run(database, referral.due_at + timedelta(days=1))
    assert all(r is None for _, _, r in alerts(database))  # only the ticket's own alerts


def test_a_ticket_reminds_its_assignee_and_escalates_to_its_centers_supervisors(
    database: Database,
) -> None:
    agent = make_user(database, "agent")
    supervisor = make_user(database, "supervisor", center_code="50")
    ticket = open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=SENT)
    assign(UnitOfWork(database), ticket.id, agent.user_id, agent)
    assert ticket.due_at is not None
    start = reminder_time(ticket.due_at, 2, set(), BANGKOK)
    assert run(database, start).reminded == 1
    assert alerts(database) == [("reminder", agent.user_id, None)]
    late = ticket.due_at + timedelta(minutes=1)
    with UnitOfWork(database) as uow:
        found = uow.session.get(Ticket, ticket.id)
        assert found is not None and is_overdue(found, late) and not is_overdue(found, start)
        assert uow.session.scalars(select(Ticket.id).where(overdue_tickets(late))).all() == [
            ticket.id
        ]
    assert run(database, late).escalated == 1
    assert alerts(database)[-1] == ("escalation", supervisor.user_id, None)
    assert run(database, late) == DeadlineReport(0, 0, 0, 0)


def test_finished_and_training_tickets_are_left_alone(database: Database) -> None:
    agent = make_user(database, "agent")
    make_user(database, "supervisor", center_code="50")
    done = open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=SENT)
    change_status(UnitOfWork(database), done.id, "accepted", agent)
    change_status(UnitOfWork(database), done.id, "resolved", agent)
    open_ticket(UnitOfWork(database), make_draft(is_training=True), SYSTEM, now=SENT)
    assert run(database, SENT + timedelta(days=90)) == DeadlineReport(0, 0, 0, 0)


def test_a_center_without_supervisors_escalates_to_the_central_center(database: Database) -> None:
    central = make_user(database, "supervisor", center_code="central")
    ticket = open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=SENT)
    assert ticket.due_at is not None
    run(database, ticket.due_at + timedelta(minutes=1))
    assert alerts(database) == [("escalation", central.user_id, None)]


def test_overdue_referrals_query_matches_the_helper(database: Database) -> None:
    referral, _ = referral_setup(database)
    late = referral.due_at + timedelta(hours=1)
    with UnitOfWork(database) as uow:
        ids = uow.session.scalars(select(Referral.id).where(overdue_referrals(late))).all()
        row = uow.session.get(Referral, referral.id)
        assert row is not None and is_overdue(row, late)
    assert ids == [referral.id]


def test_the_cli_runs_one_round(tmp_path: Path) -> None:
    cli = CliRunner(env={"INSTANCE_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""})
    assert cli.invoke(main, ["db", "upgrade"]).exit_code == 0
    database = Database.connect(f"sqlite:///{tmp_path / 'hotline.sqlite3'}")
    make_user(database, "supervisor", center_code="50")
    long_ago = datetime.now(UTC) - timedelta(days=60)
    open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=long_ago)
    result = cli.invoke(main, ["deadlines", "check"])
    assert result.exit_code == 0, result.output
    assert "escalated 1" in result.output
    assert "escalated 0" in cli.invoke(main, ["deadlines", "check"]).output
    database.dispose()


def test_the_worker_housekeeper_runs_the_checks(
    make_app: Callable[..., Flask], database: Database
) -> None:
    redis = Redis.from_url(REDIS_URL)
    try:
        redis.ping()
    except OSError as exc:  # pragma: no cover - depends on the machine
        pytest.fail(f"Redis is needed here: {exc}")
    redis.delete("hotline:lock:deadlines", "hotline:lock:sms", "hotline:lock:sweep")
    app = make_app(redis_url=REDIS_URL, recording_retention_days=0)
    supervisor = make_user(database, "supervisor", center_code="50")
    ticket = open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=SENT - timedelta(days=60))
    Housekeeper(app).round()
    assert alerts(database) == [("escalation", supervisor.user_id, None)]
    redis.delete("hotline:lock:deadlines", "hotline:lock:sms", "hotline:lock:sweep")
    del ticket


def test_past_deadlines_never_crowd_out_reminders(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ticketing.deadlines.BATCH", 1)
    agent = make_user(database, "agent")
    make_user(database, "supervisor", center_code="50")
    late = open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=SENT - timedelta(days=40))
    soon = open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=SENT)
    assign(UnitOfWork(database), soon.id, agent.user_id, agent)
    assert soon.due_at is not None and late.due_at is not None
    now = reminder_time(soon.due_at, 2, set(), BANGKOK)
    assert run(database, now) == DeadlineReport(reminded=1, escalated=1, alerts=2, sms=0)
    assert ("reminder", agent.user_id, None) in alerts(database)
