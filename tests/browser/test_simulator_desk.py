"""Two people at two computers: a caller on the browser phone asks for an agent, an agent on
the desk takes the call (audio simulated), hangs up and wraps up, and the caller's call goes
on to the survey; a caller who leaves the page leaves the queue."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from hotline.calls.models import Call, CallEvent
from tests.browser.conftest import LiveServer, new_context, screenshot, sign_in
from tests.browser.test_simulator import press, wait_for
from ticketing.db.uow import UnitOfWork
from ticketing.models import User


def queued_caller(caller: Page, server: LiveServer) -> None:
    """The browser phone dials 1567 and presses 0: waiting for an agent."""
    sign_in(caller, server, server.user("agent"))  # the phone is for staff
    caller.goto(f"{server.url}/simulator/")
    press(caller, "1567")
    caller.click("#call")
    wait_for(caller, "keys")
    press(caller, "0")
    wait_for(caller, "queue")


def agent_ready(page: Page, server: LiveServer) -> int:
    """An agent signed in on the desk and available; their user id."""
    username = server.user("agent", display_name="สมศรี รับสาย")
    sign_in(page, server, username)
    page.goto(f"{server.url}/console/desk")
    page.get_by_role("button", name="พร้อมรับสาย").click()
    expect(page.locator("#my-state")).to_have_text("พร้อมรับสาย")
    with UnitOfWork(server.db) as uow:
        user_id = uow.session.scalars(select(User.id).where(User.username == username)).one()
    return user_id


def test_an_agent_on_the_desk_answers_a_browser_phone_caller(
    staffed_server: LiveServer, page: Page, browser: Browser
) -> None:
    server = staffed_server
    agent_id = agent_ready(page, server)
    context = new_context(browser)  # the caller: another person, another browser profile
    caller = context.new_page()
    try:
        queued_caller(caller, server)
        expect(caller.locator("#state")).to_contain_text("กำลังรอสายเจ้าหน้าที่")

        row = page.locator("#queue-rows tr[data-sid]")
        expect(row).to_have_count(1, timeout=20_000)  # over server-sent events, no reload
        expect(row).to_contain_text("08x xxx 5678")
        expect(row).to_contain_text("เมนูหลัก (กด 0)")
        page.get_by_role("button", name="รับสายถัดไป").click()
        expect(page.locator("#my-state")).to_have_text("กำลังคุยสาย")
        expect(page.locator("#screen-pop")).to_be_visible()
        expect(page.locator("#pop-phone")).to_have_text("081 234 5678")

        expect(caller.locator("#phone[data-waiting=agent]")).to_be_attached()
        expect(caller.locator("#state")).to_contain_text("เจ้าหน้าที่รับสายแล้ว")
        expect(caller.locator("#state")).to_contain_text("ไม่มีการต่อเสียงจริง")
        expect(caller.locator("#heard")).to_contain_text("เสียงในสายเป็นการจำลอง")

        page.get_by_role("button", name="วางสาย (จำลอง)").click()
        expect(page.locator("#my-state")).to_have_text("สรุปการสนทนา")
        page.select_option("select[name=disposition]", "resolved")
        page.get_by_role("button", name="บันทึกและพร้อมรับสาย").click()
        expect(page.locator("#my-state")).to_have_text("พร้อมรับสาย")

        wait_for(caller, "keys")  # the survey, after the agent hung up
        expect(caller.locator("#heard")).to_contain_text("สายกับเจ้าหน้าที่จบแล้ว")
        expect(caller.locator("#heard")).to_contain_text("ความพึงพอใจ")
        press(caller, "5")
        wait_for(caller, "ended")
        expect(caller.locator("#heard")).to_contain_text("ขอบคุณที่ใช้บริการ")
    finally:
        screenshot(caller, "test_an_agent_on_the_desk_answers_a_browser_phone_caller-caller")
        context.close()

    with UnitOfWork(server.db) as uow:
        call = uow.session.scalars(select(Call)).one()
    assert call.outcome == "answered" and call.agent_id == agent_id
    assert call.disposition == "resolved" and call.twilio_status == "completed"


def test_a_caller_who_leaves_the_page_leaves_the_queue(
    staffed_server: LiveServer, page: Page, browser: Browser
) -> None:
    server = staffed_server
    sign_in(page, server, server.user("supervisor"))
    page.goto(f"{server.url}/console/queue")
    context = new_context(browser)
    caller = context.new_page()
    try:
        queued_caller(caller, server)
        row = page.locator("#queue-rows tr[data-sid]")
        expect(row).to_have_count(1, timeout=20_000)
        caller.goto(f"{server.url}/console/")  # the caller puts the phone down
        expect(row).to_have_count(0, timeout=20_000)
    finally:
        context.close()
    with UnitOfWork(server.db) as uow:
        kinds = uow.session.scalars(select(CallEvent.kind)).all()
        call = uow.session.scalars(select(Call)).one()
    assert "abandon" in kinds and call.twilio_status == "completed"
