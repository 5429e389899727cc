"""An agent's call, end to end in Chromium: a simulated caller waits in the queue, the agent
takes the call, sees the screen pop, files the complaint with the call linked, adds a note,
refers it and wraps up; an agent is refused the supervisors' page."""

from __future__ import annotations

import threading

from playwright.sync_api import Page, expect
from sqlalchemy import select

from hotline.calls.models import Call, call_tickets
from tests.browser.conftest import LiveServer, sign_in
from tests.factories import VALID_CITIZEN_ID, make_agency
from ticketing.db.uow import UnitOfWork


def caller_waiting_for_an_agent(server: LiveServer) -> threading.Thread:
    """`hotline call --keys 0`: the caller asks for an agent and holds until one hangs up."""
    thread = threading.Thread(
        target=server.cli, args=("call", "--keys", "0", "--wait-for-agent", "60"), daemon=True
    )
    thread.start()
    return thread


def test_an_agent_takes_a_queued_call_files_the_complaint_and_wraps_up(
    staffed_server: LiveServer, page: Page
) -> None:
    live_server = staffed_server  # pressing 0 reaches the queue at any hour
    agency = make_agency(live_server.db)  # Chiang Mai's land office: the complaint goes there
    sign_in(page, live_server, live_server.user("agent", display_name="สมศรี รับสาย"))
    page.goto(f"{live_server.url}/console/desk")
    page.get_by_role("button", name="พร้อมรับสาย").click()
    expect(page.locator("#my-state")).to_have_text("พร้อมรับสาย")

    caller = caller_waiting_for_an_agent(live_server)
    row = page.locator("#queue-rows tr[data-sid]")
    expect(row).to_have_count(1, timeout=20_000)  # pushed over server-sent events, no reload
    expect(row).to_contain_text("08x xxx 5678")
    expect(row).to_contain_text("เมนูหลัก (กด 0)")
    expect(page.locator("#simulated-notice")).to_contain_text("การรับสายเป็นการจำลอง")

    page.get_by_role("button", name="รับสายถัดไป").click()
    expect(page.locator("#my-state")).to_have_text("กำลังคุยสาย")
    pop = page.locator("#screen-pop")
    expect(pop).to_be_visible()
    expect(page.locator("#pop-phone")).to_have_text("081 234 5678")
    expect(page.locator("#pop-tickets")).to_contain_text("ไม่มีเรื่องร้องเรียนเดิม")
    expect(page.locator("#queue-rows tr[data-sid]")).to_have_count(0)
    call_sid = pop.locator("#pop-new-ticket").get_attribute("href").rsplit("=", 1)[1]  # type: ignore[union-attr]

    pop.get_by_role("link", name="สร้างเรื่องร้องเรียนจากสายนี้").click()
    expect(page.locator("#linked-call")).to_contain_text("081 234 5678")
    page.select_option("#category", "land")
    page.fill("#postal_code", "50200")
    expect(page.locator("#province")).to_have_value("50")
    expect(page.locator("#district")).to_have_value("5001")
    page.fill("#citizen_id", VALID_CITIZEN_ID[:-1] + "1")
    expect(page.locator("#cid-status")).to_have_text("เลขประจำตัวประชาชนไม่ถูกต้อง โปรดตรวจสอบอีกครั้ง")
    page.fill("#citizen_id", VALID_CITIZEN_ID)
    expect(page.locator("#cid-status")).to_have_text("เลขประจำตัวประชาชนถูกต้อง")
    page.fill("#description", "เพื่อนบ้านสร้างรั้วรุกล้ำที่ดินของผู้ร้อง")
    page.get_by_role("button", name="บันทึกเรื่องร้องเรียน").click()
    expect(page.locator("h1")).to_contain_text("เรื่องเลขที่")

    page.fill("textarea[name=body]", "ผู้ร้องขอให้ติดต่อกลับช่วงเย็น")
    page.get_by_role("button", name="บันทึก", exact=True).click()
    expect(page.locator(".timeline")).to_contain_text("ผู้ร้องขอให้ติดต่อกลับช่วงเย็น")

    page.select_option("#status-select", "accepted")  # accepted first, then referred on
    page.get_by_role("button", name="เปลี่ยนสถานะ").click()
    page.get_by_label(agency.name_th).check()
    page.click("form.refer button")
    expect(page.locator("h1 .status")).to_have_text("ส่งต่อหน่วยงาน")
    expect(page.locator(".timeline")).to_contain_text(f"ส่งต่อ {agency.name_th}")
    with UnitOfWork(live_server.db) as uow:
        linked = uow.session.scalars(
            select(Call.call_sid).join(call_tickets, call_tickets.c.call_id == Call.id)
        ).all()
    assert linked == [call_sid]

    page.goto(f"{live_server.url}/console/desk")
    expect(page.locator("#screen-pop")).to_be_visible()
    page.get_by_role("button", name="วางสาย (จำลอง)").click()
    expect(page.locator("#my-state")).to_have_text("สรุปการสนทนา")
    page.get_by_role("button", name="บันทึกและพร้อมรับสาย").click()  # no disposition chosen
    expect(page.locator("#my-state")).to_have_text("สรุปการสนทนา")
    page.select_option("select[name=disposition]", "ticket_filed")
    page.get_by_role("button", name="บันทึกและพร้อมรับสาย").click()
    expect(page.locator("#my-state")).to_have_text("พร้อมรับสาย")
    expect(page.locator("#screen-pop")).to_be_hidden()
    caller.join(timeout=30)
    with UnitOfWork(live_server.db) as uow:
        call = uow.session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
    assert call.disposition == "ticket_filed" and call.outcome == "answered"


def test_an_agent_is_refused_the_supervisors_page(live_server: LiveServer, page: Page) -> None:
    sign_in(page, live_server, live_server.user("agent"))
    response = page.goto(f"{live_server.url}/console/agents")
    assert response is not None and response.status == 403
    sign_in(page, live_server, live_server.user("supervisor"))
    response = page.goto(f"{live_server.url}/console/agents")
    assert response is not None and response.status == 200
    expect(page.locator("h1")).to_have_text("สถานะเจ้าหน้าที่")
