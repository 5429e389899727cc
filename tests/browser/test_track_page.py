"""The public /track page in Chromium, on a desktop (1366×768) and a phone (390 px wide): a
citizen looks a complaint up with its number and the last four phone digits."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser

from tests.browser.conftest import LiveServer, screenshot
from tests.factories import make_agency, make_ticket, make_user
from ticketing.db.uow import UnitOfWork
from ticketing.numbers import parse_ticket_number
from ticketing.services import add_note, change_status, refer


@pytest.mark.parametrize(("name", "width", "height"), [("desktop", 1366, 768), ("phone", 390, 844)])
def test_a_citizen_tracks_a_complaint(
    browser: Browser, live_server: LiveServer, name: str, width: int, height: int
) -> None:
    db = live_server.db
    agent = make_user(db, "agent")
    agency = make_agency(db)
    ticket = make_ticket(db)
    change_status(UnitOfWork(db), ticket.id, "accepted", agent)
    refer(UnitOfWork(db), ticket.id, [agency.id], agent)
    add_note(UnitOfWork(db), ticket.id, "สำนักงานที่ดินนัดตรวจสอบแนวเขตในสัปดาห์หน้า", agent,
             is_public=True)  # fmt: skip
    context = browser.new_context(locale="th-TH", timezone_id="Asia/Bangkok",
                                  viewport={"width": width, "height": height})  # fmt: skip
    tab = context.new_page()
    try:
        tab.goto(f"{live_server.url}/track")
        assert tab.locator("html").get_attribute("lang") == "th"
        screenshot(tab, f"track_form_{name}")
        tab.fill("#number", "6900000000")
        tab.fill("#proof", "1234")
        tab.click("button[type=submit]")
        assert tab.locator("[role=alert]").inner_text().startswith("ไม่พบเรื่อง")
        display = parse_ticket_number(ticket.number).display
        tab.fill("#number", display)
        tab.fill("#proof", "5678")
        tab.click("button[type=submit]")
        tab.wait_for_selector(".status")
        assert tab.locator(".status").inner_text() == "ส่งต่อหน่วยงาน"
        assert display in tab.locator("h1").inner_text()
        assert "นัดตรวจสอบแนวเขต" in tab.content()
        # Mobile first: nothing wider than the screen.
        overflow = tab.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not overflow
        screenshot(tab, f"track_result_{name}")
    finally:
        context.close()
