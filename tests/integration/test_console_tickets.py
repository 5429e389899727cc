"""The console's ticket list page and the ticket page's assign, refer and merge forms."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.factories import SYSTEM, make_agency, make_draft, make_ticket, make_user
from tests.integration.test_console_auth import csrf, sign_in, username_of
from tests.integration.test_ticket_services import row_counts
from tests.voice import OFFICE_HOURS
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import Referral, Ticket
from ticketing.numbers import make_ticket_number
from ticketing.permissions import Actor
from ticketing.services import open_ticket

MISSING = make_ticket_number(2569, 99999).digits  # well formed, never opened here


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(recordings_dir=tmp_path / "recordings")


def signed_in(app: Flask, database: Database, actor: Actor) -> FlaskClient:
    client = app.test_client()
    sign_in(client, username_of(database, actor.user_id))
    return client


def page_of(client: FlaskClient, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def load(database: Database, ticket_id: int) -> Ticket:
    with UnitOfWork(database) as uow:
        ticket = uow.session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


# The list ---------------------------------------------------------------------------------------


def test_the_list_searches_masks_and_marks_overdue_rows(app: Flask, database: Database) -> None:
    water = make_ticket(database, description="น้ำประปาไม่ไหลมาสามวัน", caller_phone="0812345678")
    pothole = make_draft(description="ถนนเป็นหลุมเป็นบ่อ", caller_phone="0899999999")
    late = open_ticket(UnitOfWork(database), pothole, SYSTEM, now=OFFICE_HOURS - timedelta(days=60))
    client = signed_in(app, database, make_user(database, "agent"))

    listed = page_of(client, "/console/tickets")
    assert water.number[2:-1] in listed and late.number[2:-1] in listed
    assert "0812345678" not in listed and "081 234 5678" not in listed
    assert "08x xxx 5678" in listed  # phone masked
    assert "1101700207030" not in listed and "x-xxxx-xxxx7-03-0" in listed  # citizen ID masked
    assert listed.count('class="row-overdue"') == 1 and "เกินกำหนด" in listed
    assert 'class="status status-received"' in listed

    searched = page_of(client, "/console/tickets?q=ประปา")
    assert water.number[2:-1] in searched and late.number[2:-1] not in searched
    assert 'value="ประปา"' in searched  # the query stays in the box
    by_phone = page_of(client, "/console/tickets?q=%2B66+81+234+5678")
    assert water.number[2:-1] in by_phone and late.number[2:-1] not in by_phone
    overdue = page_of(client, "/console/tickets?overdue=1")
    assert late.number[2:-1] in overdue and water.number[2:-1] not in overdue


def test_filters_live_in_the_query_string_and_pages_keep_them(
    app: Flask, database: Database
) -> None:
    for _ in range(52):
        make_ticket(database, description="ไฟฟ้าดับทั้งซอย")
    other = make_ticket(database, description="น้ำท่วมขัง")
    client = signed_in(app, database, make_user(database, "supervisor"))
    first = page_of(client, "/console/tickets?q=ไฟฟ้า&status=received&sort=oldest")
    assert other.number[2:-1] not in first
    assert first.count("data-row") == 50
    next_link = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert "q=%E0%B9%84" in next_link and "sort=oldest" in next_link and "after=" in next_link
    second = page_of(client, "/console/tickets" + next_link.replace("&amp;", "&"))
    assert second.count("data-row") == 2 and 'rel="next"' not in second
    assert "หน้าแรก" in second


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("status=lost", "ไม่มีสถานะนี้"),
        ("category=unknown", "ไม่มีประเภทเรื่องนี้"),
        ("province=99", "ไม่มีจังหวัดนี้"),
        ("from=2026-13-01", "วันที่ไม่ถูกต้อง"),
        ("from=2026-11-24&to=2026-11-01", "วันที่เริ่มต้องไม่อยู่หลังวันที่สิ้นสุด"),
        ("assignee=someone", "ผู้รับผิดชอบไม่ถูกต้อง"),
        ("sort=random", "ไม่มีการเรียงลำดับแบบนี้"),
        ("after=not-a-cursor", "ลิงก์หน้าถัดไปไม่ถูกต้อง"),
        ("q=ประปา+ฮฮ", "คำค้นแต่ละคำต้องยาวอย่างน้อย 3 ตัวอักษร (ไม่ใช่ ฮฮ)"),
    ],
)
def test_bad_filters_get_a_400_that_says_which(
    app: Flask, database: Database, query: str, message: str
) -> None:
    make_ticket(database)
    client = signed_in(app, database, make_user(database, "agent"))
    response = client.get(f"/console/tickets?{query}")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body and "data-row" not in body


def test_the_list_is_for_staff_only(app: Flask, database: Database) -> None:
    agency = make_agency(database)
    client = signed_in(app, database, make_user(database, "agency", agency_code=agency.code))
    assert client.get("/console/tickets").status_code == 403


# Assign -----------------------------------------------------------------------------------------


def test_a_supervisor_assigns_an_agent_of_the_center(app: Flask, database: Database) -> None:
    ticket = make_ticket(database)
    agent = make_user(database, "agent", display_name="สมหญิง รับสาย")
    client = signed_in(app, database, make_user(database, "supervisor"))
    path = f"/console/tickets/{ticket.number}"
    assert "สมหญิง รับสาย" in page_of(client, path)  # offered in the form
    done = client.post(f"{path}/assign", data={"assignee": agent.user_id,
                                               "csrf_token": csrf(client, path)})  # fmt: skip
    assert done.status_code == 302 and load(database, ticket.id).assignee_id == agent.user_id
    assert "สมหญิง รับสาย" in page_of(client, "/console/tickets?assignee=" + str(agent.user_id))


def test_an_agent_takes_a_ticket_but_cannot_hand_it_to_others(
    app: Flask, database: Database
) -> None:
    ticket = make_ticket(database)
    agent, colleague = make_user(database, "agent"), make_user(database, "agent")
    client = signed_in(app, database, agent)
    path = f"/console/tickets/{ticket.number}"
    token = csrf(client, path)
    before = row_counts(database)
    refused = client.post(f"{path}/assign", data={"assignee": colleague.user_id,
                                                  "csrf_token": token})  # fmt: skip
    assert refused.status_code == 403 and "ไม่มีสิทธิ์" in refused.get_data(as_text=True)
    assert row_counts(database) == before
    taken = client.post(f"{path}/assign", data={"assignee": agent.user_id, "csrf_token": token})
    assert taken.status_code == 302 and load(database, ticket.id).assignee_id == agent.user_id
    assert ticket.number[2:-1] in page_of(client, "/console/tickets?assignee=me")


@pytest.mark.parametrize("value", ["x1", "99999", "12345678901234567890"])
def test_assigning_to_nobody_we_know_writes_nothing(
    app: Flask, database: Database, value: str
) -> None:
    ticket = make_ticket(database)
    client = signed_in(app, database, make_user(database, "supervisor"))
    path = f"/console/tickets/{ticket.number}"
    token = csrf(client, path)
    before = row_counts(database)
    response = client.post(f"{path}/assign", data={"assignee": value, "csrf_token": token})
    assert response.status_code == 400
    assert "ทำรายการไม่สำเร็จ" in response.get_data(as_text=True)
    assert row_counts(database) == before


# Refer ------------------------------------------------------------------------------------------


def test_refer_to_two_agencies_with_the_categorys_deadline(app: Flask, database: Database) -> None:
    ticket = make_ticket(database)
    land, police = make_agency(database), make_agency(database, name_th="สถานีตำรวจภูธรเมือง")
    make_agency(database, name_th="สำนักงานที่ดินจังหวัดขอนแก่น", province_code="40")
    make_agency(database, name_th="สำนักงานคุ้มครองผู้บริโภค", scope="national", province_code=None)
    client = signed_in(app, database, make_user(database, "agent"))
    path = f"/console/tickets/{ticket.number}"
    token = csrf(client, path)
    assert client.post(f"{path}/status", data={"status": "accepted", "csrf_token": token})
    page = page_of(client, path)
    assert "สถานีตำรวจภูธรเมือง" in page and "15 วันทำการ" in page
    assert "สำนักงานคุ้มครองผู้บริโภค" in page  # national agencies take any province
    assert "ขอนแก่น" not in page  # another province's office is not offered
    form = {"agency": [land.id, police.id], "note": "โปรดตรวจสอบแนวเขต", "csrf_token": token}
    done = client.post(f"{path}/refer", data=form)
    assert done.status_code == 302
    with UnitOfWork(database) as uow:
        referrals = uow.session.scalars(select(Referral).order_by(Referral.agency_id)).all()
    assert [r.agency_id for r in referrals] == sorted([land.id, police.id])
    assert load(database, ticket.id).status == "referred"
    assert "ส่งต่อ" in page_of(client, path)


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({}, 400, "โปรดเลือกหน่วยงานอย่างน้อยหนึ่งแห่ง"),
        ({"agency": "abc"}, 400, "โปรดเลือกหน่วยงานจากรายชื่อ"),
        ({"agency": "99999"}, 400, "หน่วยงานที่เลือกรับเรื่องไม่ได้"),
    ],
)
def test_bad_referrals_write_nothing(
    app: Flask, database: Database, form: dict[str, str], status: int, message: str
) -> None:
    ticket = make_ticket(database)
    make_agency(database)
    client = signed_in(app, database, make_user(database, "agent"))
    path = f"/console/tickets/{ticket.number}"
    token = csrf(client, path)
    before = row_counts(database)
    response = client.post(f"{path}/refer", data={**form, "csrf_token": token})
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert row_counts(database) == before


def test_a_received_ticket_cannot_be_referred_yet(app: Flask, database: Database) -> None:
    ticket, agency = make_ticket(database), make_agency(database)
    client = signed_in(app, database, make_user(database, "agent"))
    path = f"/console/tickets/{ticket.number}"
    before = row_counts(database)
    response = client.post(f"{path}/refer", data={"agency": agency.id,
                                                  "csrf_token": csrf(client, path)})  # fmt: skip
    assert response.status_code == 409
    assert "เปลี่ยนสถานะจาก “รับเรื่องแล้ว” เป็น “ส่งต่อหน่วยงาน” ไม่ได้" in response.get_data(as_text=True)
    assert row_counts(database) == before


# Merge ------------------------------------------------------------------------------------------


def test_merge_a_duplicate_by_the_originals_number(app: Flask, database: Database) -> None:
    original, duplicate = make_ticket(database), make_ticket(database)
    client = signed_in(app, database, make_user(database, "agent"))
    path = f"/console/tickets/{duplicate.number}"
    dashed = f"{original.number[:2]}-{original.number[2:-1]}-{original.number[-1]}"
    done = client.post(f"{path}/merge", data={"into": dashed, "reason": "ผู้ร้องโทรมาซ้ำ",
                                              "csrf_token": csrf(client, path)})  # fmt: skip
    assert done.status_code == 302
    merged = load(database, duplicate.id)
    assert merged.status == "duplicate" and merged.merged_into_id == original.id
    assert "เรื่องนี้ถูกรวมเป็นเรื่องซ้ำแล้ว" in page_of(client, path)
    assert f"รวมเรื่องซ้ำ {duplicate.number}" in page_of(client, f"/console/tickets/{original.number}")


@pytest.mark.parametrize(
    ("into", "reason", "message"),
    [
        ("6900000013", "ซ้ำ", "เลขที่เรื่องที่จะรวมเข้าด้วยไม่ถูกต้อง"),  # bad check digit
        ("missing", "ซ้ำ", f"ไม่พบเรื่องเลขที่ {MISSING}"),
        ("self", "ซ้ำ", "รวมเรื่องนี้เข้ากับตัวเอง"),
        ("original", "  ", "โปรดระบุเหตุผลที่รวมเรื่อง"),
    ],
)
def test_bad_merges_write_nothing(
    app: Flask, database: Database, into: str, reason: str, message: str
) -> None:
    original, duplicate = make_ticket(database), make_ticket(database)
    typed = {"self": duplicate.number, "original": original.number, "missing": MISSING}.get(
        into, into
    )
    client = signed_in(app, database, make_user(database, "agent"))
    path = f"/console/tickets/{duplicate.number}"
    token = csrf(client, path)
    before = row_counts(database)
    response = client.post(f"{path}/merge", data={"into": typed, "reason": reason,
                                                  "csrf_token": token})  # fmt: skip
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert row_counts(database) == before


def test_actions_without_the_csrf_token_are_refused(app: Flask, database: Database) -> None:
    ticket, agency = make_ticket(database), make_agency(database)
    client = signed_in(app, database, make_user(database, "supervisor"))
    before = row_counts(database)
    path = f"/console/tickets/{ticket.number}"
    assert client.post(f"{path}/refer", data={"agency": agency.id}).status_code == 400
    assert client.post(f"{path}/assign", data={"assignee": ""}).status_code == 400
    assert row_counts(database) == before


def test_the_page_shows_the_place_confirms_each_action_and_no_stray_dash(
    app: Flask, database: Database
) -> None:
    supervisor = make_user(database, "supervisor")
    ticket = make_ticket(database, province_code="50", district_code="5001", postal_code="50200")
    client = signed_in(app, database, supervisor)
    page = page_of(client, f"/console/tickets/{ticket.number}")
    assert "เมืองเชียงใหม่" in page and "เชียงใหม่" in page and "50200" in page
    assert "- ·" not in page
    token = csrf(client, f"/console/tickets/{ticket.number}")
    done = client.post(f"/console/tickets/{ticket.number}/notes",
                       data={"csrf_token": token, "body": "โทรกลับแล้ว"})  # fmt: skip
    assert done.status_code == 302
    assert "บันทึกข้อความแล้ว" in page_of(client, f"/console/tickets/{ticket.number}")
    again = page_of(client, f"/console/tickets/{ticket.number}")
    assert "บันทึกข้อความแล้ว" not in again, "the confirmation shows once"
    assign_to = {"csrf_token": token, "assignee": str(supervisor.user_id)}
    assert (
        client.post(f"/console/tickets/{ticket.number}/assign", data=assign_to).status_code == 302
    )
    page = page_of(client, f"/console/tickets/{ticket.number}")
    assert "มอบหมายเรื่องแล้ว" in page
    assert "มอบหมายให้ ทดสอบ supervisor · โดย ทดสอบ supervisor" in page  # in the timeline
