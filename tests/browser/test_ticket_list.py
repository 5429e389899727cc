"""An agent works the complaint list from the keyboard: search, open, assign, refer, merge."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.conftest import ARTIFACTS, LiveServer, sign_in
from tests.factories import make_agency, make_ticket
from ticketing.db.uow import UnitOfWork
from ticketing.models import Referral, Ticket


def dashed(number: str) -> str:
    return f"{number[:2]}-{number[2:-1]}-{number[-1]}"


def test_an_agent_finds_a_sub_word_and_works_the_ticket_from_the_keyboard(
    live_server: LiveServer, page: Page
) -> None:
    db = live_server.db
    original = make_ticket(db, description="น้ำประปาไม่ไหลมาสามวันแล้ว ตำบลสุเทพ")
    make_ticket(db, description="ไฟฟ้าดับทั้งหมู่บ้าน")
    duplicate = make_ticket(db, description="แจ้งซ้ำ น้ำประปาไม่ไหล ตำบลสุเทพ")
    agency = make_agency(db, name_th="การประปาส่วนภูมิภาคสาขาเชียงใหม่")
    sign_in(page, live_server, live_server.user("agent", display_name="สมหญิง รับสาย"))

    page.goto(f"{live_server.url}/console/tickets")
    page.keyboard.press("?")
    expect(page.locator("#shortcut-help")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.locator("#ticket-search")).to_be_focused()
    page.keyboard.type("ประปา")  # typed into the field: "j" or "n" in a word are just letters
    page.keyboard.press("Enter")
    rows = page.locator("[data-row]")
    expect(rows).to_have_count(2)
    expect(page.locator("table")).not_to_contain_text("ไฟฟ้าดับ")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ticket_list_search.png"), full_page=True)

    page.keyboard.press("j")
    page.keyboard.press("j")  # newest first: the second row is the original
    expect(rows.nth(1)).to_have_class(re.compile("selected"))
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text(dashed(original.number))
    page.wait_for_load_state("load")  # shortcuts.js is deferred: its keys work once it has run

    page.keyboard.press("a")
    expect(page.locator("#assignee-select")).to_be_focused()
    page.select_option("#assignee-select", label="ตัวฉันเอง")
    page.click("form.assign button")
    expect(page.locator(".facts")).to_contain_text("สมหญิง รับสาย")
    page.wait_for_load_state("load")  # the shortcut handler is bound once the page has loaded

    page.keyboard.press("s")
    expect(page.locator("#status-select")).to_be_focused()
    page.select_option("#status-select", "accepted")
    page.get_by_role("button", name="เปลี่ยนสถานะ").click()
    expect(page.locator("h1 .status")).to_have_text("รับพิจารณา")

    page.get_by_label("การประปาส่วนภูมิภาคสาขาเชียงใหม่").check()
    page.click("form.refer button")
    expect(page.locator("h1 .status")).to_have_text("ส่งต่อหน่วยงาน")
    expect(page.locator(".timeline")).to_contain_text("ส่งต่อ การประปาส่วนภูมิภาคสาขาเชียงใหม่")

    page.goto(f"{live_server.url}/console/tickets/{duplicate.number}")
    page.keyboard.press("n")
    expect(page.locator("#note-body")).to_be_focused()
    page.keyboard.type("jks?")  # letters typed in a field are text, never shortcuts
    expect(page.locator("#note-body")).to_have_value("jks?")
    expect(page.locator("#shortcut-help")).to_be_hidden()
    page.keyboard.press("Escape")  # leaves the field; shortcuts work again
    page.keyboard.press("s")
    expect(page.locator("#status-select")).to_be_focused()
    page.fill("#merge-into", dashed(original.number))
    page.fill("form.merge input[name=reason]", "ผู้ร้องรายเดียวกันแจ้งซ้ำ")
    page.click("form.merge button")
    expect(page.locator("h1 .status")).to_have_text("เรื่องซ้ำ")

    with UnitOfWork(db) as uow:
        worked = uow.session.get(Ticket, original.id)
        merged = uow.session.get(Ticket, duplicate.id)
        referred = uow.session.scalars(select(Referral.agency_id)).all()
    assert worked is not None and worked.assignee_id is not None and worked.status == "referred"
    assert merged is not None and merged.merged_into_id == original.id
    assert referred == [agency.id]
