"""An agent's first minutes: sign in, find the complaint a caller just filed, hear it."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from hotline.demo.phone import tone_wav
from recordings.models import Recording
from tests.browser.conftest import LiveServer, sign_in
from ticketing.db.uow import UnitOfWork
from ticketing.models import AuditEvent


def file_complaint_by_phone(server: LiveServer, tmp_path: Path) -> Recording:
    voice = tmp_path / "complaint.wav"
    voice.write_bytes(tone_wav(3.0))
    server.cli("call", "--keys", f"1,1,50200,1,#,record:{voice},2,5")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with UnitOfWork(server.db) as uow:
            recording = uow.session.scalars(select(Recording)).first()
        if recording is not None and recording.state == "stored":
            return recording
        time.sleep(0.2)
    raise AssertionError("the recording was not stored")


def test_an_agent_finds_the_phoned_complaint_and_plays_the_callers_words(
    live_server: LiveServer, page: Page, tmp_path: Path
) -> None:
    recording = file_complaint_by_phone(live_server, tmp_path)
    sign_in(page, live_server, live_server.user("agent"))
    expect(page.locator("h1")).to_contain_text("เรื่องร้องเรียนล่าสุด")
    page.locator("table a").first.click()
    expect(page.locator(".timeline")).to_contain_text("บันทึกเสียง 3 วินาที")

    audio = page.locator(".timeline audio").first
    audio.evaluate("a => a.play()")
    page.wait_for_function("a => a.currentTime > 0.2", arg=audio.element_handle())
    with UnitOfWork(live_server.db) as uow:
        plays = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "recording.play")
        ).all()
    assert [p.entity_id for p in plays] == [recording.sid]


def test_the_console_switches_to_english_and_back(live_server: LiveServer, page: Page) -> None:
    sign_in(page, live_server, live_server.user("agent"))
    page.click("form.language button")
    expect(page.locator("h1")).to_have_text("Latest complaints")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.click("form.language button")
    expect(page.locator("h1")).to_have_text("เรื่องร้องเรียนล่าสุด")
