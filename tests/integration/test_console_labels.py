"""Labels, not codes, where people read: menu nodes, call outcomes, who wrote a note."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from flask import Flask, session

from hotline.calls.kinds import CallOutcome
from hotline.console.labels import BUNDLED_LABELS, OUTCOMES, menu_path, outcome_label
from hotline.console.shared import be_datetime
from ivr_flows.loader import flow_path
from tests.factories import make_ticket, make_user
from tests.integration.test_console_tickets import page_of, signed_in
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.services import add_note


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(recordings_dir=tmp_path / "recordings")


def test_every_node_of_the_flow_has_a_thai_and_english_label() -> None:
    nodes = yaml.safe_load(flow_path("1567").read_text(encoding="utf-8"))["nodes"]
    labels = yaml.safe_load(BUNDLED_LABELS.read_text(encoding="utf-8"))
    assert set(nodes) <= set(labels), set(nodes) - set(labels)
    assert all(text["th"] and text["en"] for text in labels.values())
    assert set(OUTCOMES) == set(CallOutcome)


def test_the_menu_path_and_outcomes_read_in_the_consoles_language(app: Flask) -> None:
    with app.test_request_context("/console/desk"):
        path = menu_path([("main_menu", "1"), ("complaint_category", "0")])
        assert path == "เมนูหลัก (กด 1) › ประเภทเรื่อง (กด 0)"
        assert outcome_label("self_service") == "ทำรายการผ่านระบบอัตโนมัติสำเร็จ"
        assert outcome_label("answered") == "เจ้าหน้าที่รับสาย"
        assert outcome_label(None) == ""
    with app.test_request_context("/console/desk"):
        session["lang"] = "en"
        assert menu_path([("main_menu", "1")]) == "Main menu (press 1)"
        english = outcome_label("abandoned_queue")
        assert english.isascii() and english != "abandoned_queue"


def test_a_notes_author_is_shown_by_display_name(app: Flask, database: Database) -> None:
    agent = make_user(database, "agent", display_name="สมศรี ใจดี")
    ticket = make_ticket(database)
    add_note(UnitOfWork(database), ticket.id, "โทรกลับผู้ร้องแล้ว", agent)
    page = page_of(signed_in(app, database, agent), f"/console/tickets/{ticket.number}")
    assert "สมศรี ใจดี" in page and "user:" not in page


def test_dates_are_buddhist_era_in_thai_and_gregorian_in_english(app: Flask) -> None:
    moment = datetime(2026, 12, 8, 3, 5, tzinfo=UTC)
    with app.test_request_context("/console/"):
        assert be_datetime(moment) == "8 ธ.ค. 2569 10:05"
    with app.test_request_context("/console/"):
        session["lang"] = "en"
        assert be_datetime(moment) == "8 Dec 2026 10:05"  # never "8 Dec 2569"
