"""A new user's first call: dial 1567 in the browser phone, file a complaint, see it as an agent."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from sqlalchemy import select

from recordings.models import Recording
from tests.browser.conftest import LiveServer, sign_in
from ticketing.db.uow import UnitOfWork
from ticketing.models import Ticket

IDLE = "#phone[data-busy=false]"


def press(page: Page, keys: str) -> None:
    for key in keys:
        expect(page.locator(IDLE)).to_be_attached()
        page.click(f".key[data-key='{key}']")


def wait_for(page: Page, waiting: str) -> None:
    expect(page.locator(f"#phone[data-busy=false][data-waiting={waiting}]")).to_be_attached()


def stored_recording(server: LiveServer) -> tuple[Ticket, Recording]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with UnitOfWork(server.db) as uow:
            ticket = uow.session.scalars(select(Ticket)).first()
            recording = uow.session.scalars(select(Recording)).first()
        if ticket is not None and recording is not None and recording.state == "stored":
            return ticket, recording
        time.sleep(0.2)
    raise AssertionError("the caller's recording was not stored")


def test_a_complaint_phoned_from_the_browser_reaches_the_console_with_its_recording(
    live_server: LiveServer, page: Page
) -> None:
    sign_in(page, live_server, live_server.user("agent"))
    page.goto(f"{live_server.url}/simulator/")
    expect(page.locator(".notice")).to_contain_text("ไม่มีการต่อสายโทรศัพท์จริง")
    press(page, "1567")
    page.click("#call")
    expect(page.locator("#heard")).to_contain_text("ศูนย์ดำรงธรรม")
    for keys in ("1", "1", "50200", "1"):  # complaint, land, postal code 50200, that's right
        wait_for(page, "keys")
        press(page, keys)
    wait_for(page, "keys")
    press(page, "#")  # no citizen ID
    wait_for(page, "record")
    expect(page.locator("#phone[data-recording=on]")).to_be_attached()  # the (fake) microphone
    page.wait_for_function(
        "() => Date.now() - Number(document.getElementById('phone').dataset.recordingSince) > 2500"
    )
    press(page, "#")
    expect(page.locator("#heard")).to_contain_text("เลขที่เรื่องของท่านคือ")
    wait_for(page, "keys")
    page.click("#hangup")
    wait_for(page, "ended")

    ticket, recording = stored_recording(live_server)
    assert recording.ticket_id == ticket.id and recording.content_type == "audio/wav"
    assert recording.duration_s is not None and recording.duration_s >= 2
    assert not ticket.is_training

    page.goto(f"{live_server.url}/console/")
    first = page.locator("table tbody tr").first
    expect(first).to_contain_text(ticket.number[-1])
    expect(first).to_contain_text("ปัญหาที่ดิน")
    expect(first.locator("audio")).to_be_attached()
