"""Error pages in Thai (and English) inside the layout with a way back; machines keep JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask, abort
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.factories import make_user
from tests.integration.test_console_auth import csrf, sign_in, username_of
from ticketing.db.engine import Database

HTML = {"Accept": "text/html"}
WERKZEUG_WORDS = ("Forbidden", "Not Found", "Bad Request", "Method Not Allowed",
                  "Request Entity Too Large", "Too Many Requests", "Internal Server Error",
                  "The form has expired", "werkzeug")  # fmt: skip


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    app = make_app(recordings_dir=tmp_path / "recordings")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # the 500 page, as in production

    @app.get("/console/test-fails")
    def fails() -> str:
        raise RuntimeError("a developer's words: division by zero in rollup")

    @app.get("/console/test-throttled")
    def throttled() -> str:
        abort(429)

    return app


def signed_in(app: Flask, database: Database, role: str) -> FlaskClient:
    user = make_user(database, role)
    client = app.test_client()
    assert sign_in(client, username_of(database, user.user_id)) == 302
    return client


def assert_thai_page(response: TestResponse, status: int, title: str) -> str:
    assert response.status_code == status
    page = response.get_data(as_text=True)
    assert 'class="bar"' in page, "the error page is inside the layout, with its header"
    assert title in page
    assert 'id="way-back"' in page, "the page offers a way back"
    for word in WERKZEUG_WORDS:
        assert word not in page, word
    return page


def test_agent_refused_a_supervisor_page_reads_thai(app: Flask, database: Database) -> None:
    client = signed_in(app, database, "agent")
    for path in ("/console/metrics", "/console/agents"):
        assert_thai_page(client.get(path, headers=HTML), 403, "ไม่มีสิทธิ์เปิดหน้านี้")


def test_unknown_ticket_and_unknown_url_read_thai(app: Flask, database: Database) -> None:
    client = signed_in(app, database, "agent")
    assert_thai_page(client.get("/console/tickets/999999999", headers=HTML), 404, "ไม่พบหน้าที่ต้องการ")
    assert_thai_page(client.get("/console/no-such-page", headers=HTML), 404, "ไม่พบหน้าที่ต้องการ")


def test_a_lost_session_says_the_form_expired_in_thai(app: Flask, database: Database) -> None:
    client = signed_in(app, database, "agent")
    response = client.post("/console/tickets/new", data={"csrf_token": "stale"}, headers=HTML)
    assert_thai_page(response, 400, "แบบฟอร์มหมดอายุ")


def test_405_413_429_500_read_thai(app: Flask, database: Database) -> None:
    client = signed_in(app, database, "agent")
    assert_thai_page(client.get("/auth/logout", headers=HTML), 405, "เปิดหน้านี้ด้วยวิธีนี้ไม่ได้")
    token = csrf(client, "/console/tickets/new")
    big = {"csrf_token": token, "description": "ก" * (3 * 1024 * 1024)}
    response = client.post("/console/tickets/new", data=big, headers=HTML)
    assert_thai_page(response, 413, "ข้อมูลที่ส่งมีขนาดใหญ่เกินไป")
    throttled = client.get("/console/test-throttled", headers=HTML)
    assert_thai_page(throttled, 429, "มีการทำรายการถี่เกินไป")
    assert throttled.headers["Retry-After"]
    page = assert_thai_page(client.get("/console/test-fails", headers=HTML), 500, "ระบบขัดข้อง")
    assert "division by zero" not in page, "never the exception text"


def test_the_way_back_is_the_page_the_person_came_from(app: Flask, database: Database) -> None:
    client = signed_in(app, database, "agent")
    came_from = {**HTML, "Referer": "http://localhost/console/tickets"}
    page = assert_thai_page(client.get("/console/metrics", headers=came_from), 403, "ไม่มีสิทธิ์")
    assert 'href="/console/tickets"' in page
    elsewhere = {**HTML, "Referer": "https://evil.example/console/tickets"}
    page = client.get("/console/metrics", headers=elsewhere).get_data(as_text=True)
    assert "evil.example" not in page and 'href="/console/"' in page


def test_error_pages_in_english(app: Flask, database: Database) -> None:
    client = signed_in(app, database, "agent")
    token = csrf(client, "/console/")
    client.post("/language", data={"lang": "en", "csrf_token": token})
    page = client.get("/console/metrics", headers=HTML).get_data(as_text=True)
    assert "You may not open this page" in page and "ไม่มีสิทธิ์" not in page
    page = client.get("/console/tickets/999999999", headers=HTML).get_data(as_text=True)
    assert "Page not found" in page


def test_machines_keep_their_shapes(app: Flask, database: Database) -> None:
    client = app.test_client()
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404 and response.json is not None
    assert response.json["error"]["code"] == "not_found"
    scripted = signed_in(app, database, "agent")
    response = scripted.get("/console/geo/none", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.json is not None
    open311 = client.get("/open311/v2/requests/none.json")
    assert 'class="bar"' not in open311.get_data(as_text=True)
