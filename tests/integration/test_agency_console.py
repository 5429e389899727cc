"""The agency's console: only its own referrals, personal data masked, answers through forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.runtime import runtime
from tests.factories import VALID_CITIZEN_ID, make_agency, make_ticket, make_user
from tests.integration.test_console_auth import csrf, sign_in, username_of
from tests.integration.test_ticket_services import row_counts
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.deadlines import reminder_time, run_deadline_checks
from ticketing.models import Referral, Ticket
from ticketing.services import change_status, refer


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(recordings_dir=tmp_path / "recordings")


def referred_to(database: Database, agency_id: int) -> tuple[Ticket, Referral]:
    agent = make_user(database, "agent")
    ticket = make_ticket(database)
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)
    [referral] = refer(UnitOfWork(database), ticket.id, [agency_id], agent)
    return ticket, referral


def officer_client(app: Flask, database: Database, agency_code: str) -> FlaskClient:
    officer = make_user(database, "agency", agency_code=agency_code)
    client = app.test_client()
    sign_in(client, username_of(database, officer.user_id))
    return client


def test_an_agency_sees_only_its_own_referrals(app: Flask, database: Database) -> None:
    ours, theirs = make_agency(database), make_agency(database)
    mine, my_referral = referred_to(database, ours.id)
    other, other_referral = referred_to(database, theirs.id)
    client = officer_client(app, database, ours.code)

    assert client.get("/console/").headers["Location"].endswith("/console/referrals")
    listing = client.get("/console/referrals").get_data(as_text=True)
    assert mine.number[2:-1] in listing and other.number[2:-1] not in listing
    assert client.get(f"/console/referrals/{other_referral.id}").status_code == 404
    token = csrf(client, "/console/referrals")
    before = row_counts(database)
    refused = client.post(f"/console/referrals/{other_referral.id}/respond",
                          data={"action": "answer", "text": "x", "csrf_token": token})  # fmt: skip
    assert refused.status_code == 404 and row_counts(database) == before
    assert client.get(f"/console/tickets/{other.number}").status_code == 403  # staff pages
    del my_referral


def test_the_referral_page_masks_personal_data(app: Flask, database: Database) -> None:
    agency = make_agency(database)
    _, referral = referred_to(database, agency.id)
    page = officer_client(app, database, agency.code).get(f"/console/referrals/{referral.id}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "0812345678" not in text and "08x xxx 5678" in text
    assert VALID_CITIZEN_ID not in text and "x-xxxx-xxxx7-03-0" in text
    assert "ข้างบ้านรุกล้ำที่ดิน" in text  # what they need to act on


def test_progress_answer_and_a_send_back_without_reason(app: Flask, database: Database) -> None:
    agency = make_agency(database)
    ticket, referral = referred_to(database, agency.id)
    client = officer_client(app, database, agency.code)
    url = f"/console/referrals/{referral.id}"
    token = csrf(client, url)

    before = row_counts(database)
    form = {"action": "send_back", "text": " ", "csrf_token": token}
    empty = client.post(f"{url}/respond", data=form, follow_redirects=True)
    assert "ทำรายการไม่สำเร็จ" in empty.get_data(as_text=True) and row_counts(database) == before
    form = {"action": "delete", "text": "x", "csrf_token": token}
    unknown = client.post(f"{url}/respond", data=form, follow_redirects=True)
    assert "ทำรายการไม่สำเร็จ" in unknown.get_data(as_text=True) and row_counts(database) == before
    assert client.post(f"{url}/respond", data={"action": "answer", "text": "x"}).status_code == 400

    client.post(f"{url}/respond", data={"action": "progress", "text": "ลงพื้นที่ตรวจสอบแล้ว",
                                        "csrf_token": token})  # fmt: skip
    client.post(f"{url}/respond", data={"action": "answer", "text": "รังวัดใหม่เรียบร้อย",
                                        "csrf_token": token})  # fmt: skip
    with UnitOfWork(database) as uow:
        row = uow.session.get(Referral, referral.id)
        assert row is not None and row.status == "answered" and row.response == "รังวัดใหม่เรียบร้อย"
    page = client.get(url).get_data(as_text=True)
    assert "ลงพื้นที่ตรวจสอบแล้ว" in page and "ตอบแล้ว" in page and 'name="action"' not in page
    del ticket


def set_ticket_due(database: Database, ticket_id: int, due: datetime) -> None:
    with UnitOfWork(database) as uow:
        row = uow.session.scalars(select(Ticket).where(Ticket.id == ticket_id)).one()
        row.due_at = due
        uow.commit()


def test_overdue_rows_carry_a_thai_badge(app: Flask, database: Database) -> None:
    agency = make_agency(database)
    ticket, referral = referred_to(database, agency.id)
    set_ticket_due(database, ticket.id, referral.due_at + timedelta(days=30))
    client = officer_client(app, database, agency.code)
    assert "เกินกำหนด" not in client.get("/console/referrals").get_data(as_text=True)
    runtime(app).clock = lambda: referral.due_at + timedelta(hours=1)
    assert 'class="badge-overdue">เกินกำหนด' in client.get("/console/referrals").get_data(
        as_text=True
    )
    agent = make_user(database, "agent")
    staff = app.test_client()
    sign_in(staff, username_of(database, agent.user_id))
    home = staff.get("/console/").get_data(as_text=True)
    assert 'class="row-overdue"' not in home  # the ticket's own deadline is later
    assert home.count("badge-overdue") == 0
    set_ticket_due(database, ticket.id, referral.due_at)
    assert 'class="row-overdue"' in staff.get("/console/").get_data(as_text=True)
    page = staff.get(f"/console/tickets/{ticket.number}").get_data(as_text=True)
    assert page.count("เกินกำหนด") >= 2  # the ticket and its referral


def test_deadline_alerts_show_to_the_people_they_are_for(app: Flask, database: Database) -> None:
    agency = make_agency(database)
    ticket, referral = referred_to(database, agency.id)
    officer = make_user(database, "agency", agency_code=agency.code)
    supervisor = make_user(database, "supervisor", center_code="50")
    tz = runtime(app).settings.tz
    start = reminder_time(referral.due_at, 2, set(), tz)
    run_deadline_checks(UnitOfWork(database), now=start, tz=tz, remind_days=2)
    run_deadline_checks(UnitOfWork(database), now=referral.due_at + timedelta(hours=1), tz=tz,
                        remind_days=2)  # fmt: skip

    client = app.test_client()
    sign_in(client, username_of(database, officer.user_id))
    listing = client.get("/console/referrals").get_data(as_text=True)
    assert "ครบกำหนดตอบ" in listing and f'href="/console/referrals/{referral.id}"' in listing
    staff = app.test_client()
    sign_in(staff, username_of(database, supervisor.user_id))
    home = staff.get("/console/").get_data(as_text=True)
    assert "เกินกำหนด: เรื่อง" in home and f'href="/console/tickets/{ticket.number}"' in home
