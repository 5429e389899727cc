"""The public /track page on SQLite and PostgreSQL: a Thai page, the proof, nothing else of the
ticket, no way to tell a wrong number from wrong digits, CSRF and the per-address limit."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import VALID_CITIZEN_ID, make_agency, make_ticket, make_user
from tests.voice import REDIS_URL
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import Ticket
from ticketing.numbers import parse_ticket_number
from ticketing.services import add_note, change_status, refer


def token(client: FlaskClient) -> str:
    page = client.get("/track").get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match
    return match.group(1)


def look_up(client: FlaskClient, number: str, proof: str) -> tuple[int, str]:
    form = {"csrf_token": token(client), "number": number, "proof": proof}
    response = client.post("/track", data=form)
    return response.status_code, response.get_data(as_text=True)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def ticket(database: Database) -> Ticket:
    agent = make_user(database, "agent")
    agency = make_agency(database)
    ticket = make_ticket(database, description="ความลับของผู้ร้อง ห้ามแสดง",
                         citizen_name="สมชาย ใจดี")  # fmt: skip
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)
    refer(UnitOfWork(database), ticket.id, [agency.id], agent)
    add_note(UnitOfWork(database), ticket.id, "ส่งเรื่องให้สำนักงานที่ดินตรวจสอบแล้ว", agent,
             is_public=True)  # fmt: skip
    add_note(UnitOfWork(database), ticket.id, "บันทึกภายใน ห้ามแสดง", agent)
    return ticket


def test_the_page_is_thai_and_needs_no_sign_in(app: Flask) -> None:
    response = app.test_client().get("/track")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and '<html lang="th">' in page
    assert "ติดตามเรื่องร้องเรียน" in page and 'name="csrf_token"' in page
    assert 'name="viewport"' in page


def test_the_number_and_the_last_four_digits_show_the_public_view(
    app: Flask, ticket: Ticket
) -> None:
    status, page = look_up(app.test_client(), ticket.number, "5678")
    assert status == 200
    assert parse_ticket_number(ticket.number).display in page
    assert "ส่งต่อหน่วยงาน" in page and "สำนักงานที่ดินจังหวัดเชียงใหม่" in page
    assert "ส่งเรื่องให้สำนักงานที่ดินตรวจสอบแล้ว" in page and "พ.ศ. 25" in page
    for secret in ("ความลับของผู้ร้อง", "บันทึกภายใน", "สมชาย", "0812345678", "+66812345678",
                   VALID_CITIZEN_ID, "ทดสอบ agent"):  # fmt: skip
        assert secret not in page


def test_the_citizen_id_is_proof_too(app: Flask, ticket: Ticket) -> None:
    _, page = look_up(app.test_client(), parse_ticket_number(ticket.number).display,
                      "1-1017-00207-03-0")  # fmt: skip
    assert "ส่งต่อหน่วยงาน" in page


def test_a_wrong_number_and_wrong_digits_get_the_same_answer(
    app: Flask, ticket: Ticket, database: Database
) -> None:
    other = make_ticket(database, caller_phone="0899999999")
    answers = [
        look_up(app.test_client(), ticket.number, "1234"),  # wrong digits
        look_up(app.test_client(), other.number, "5678"),  # another ticket's digits
        look_up(app.test_client(), "6900999999", "5678"),  # no such ticket (bad check digit)
        look_up(app.test_client(), ticket.number[:-1] + "0", "5678"),  # mistyped
        look_up(app.test_client(), ticket.number, "1101700207031"),  # wrong citizen ID
        look_up(app.test_client(), ticket.number, "56789"),  # neither 4 nor 13 digits
    ]
    assert {status for status, _ in answers} == {200}
    bodies = {re.sub(r'value="[^"]*"', "", body) for _, body in answers}
    assert len(bodies) == 1 and "ไม่พบเรื่องตามข้อมูลที่ระบุ" in bodies.pop()


def test_a_training_ticket_is_not_shown(app: Flask, database: Database) -> None:
    practice = make_ticket(database, is_training=True)
    _, page = look_up(app.test_client(), practice.number, "5678")
    assert "ไม่พบเรื่อง" in page


def test_a_post_without_the_csrf_token_is_refused(app: Flask, ticket: Ticket) -> None:
    response = app.test_client().post("/track", data={"number": ticket.number, "proof": "5678"})
    assert response.status_code == 400


@pytest.mark.parametrize("with_redis", [False, True])
def test_look_ups_are_limited_per_address(
    make_app: Callable[..., Flask], ticket: Ticket, with_redis: bool, request: pytest.FixtureRequest
) -> None:
    if with_redis:
        request.getfixturevalue("redis_client")
    app = make_app(track_max_lookups=3, **({"redis_url": REDIS_URL} if with_redis else {}))
    client = app.test_client()
    assert [look_up(client, ticket.number, "0000")[0] for _ in range(3)] == [200, 200, 200]
    status, page = look_up(client, ticket.number, "5678")  # even the right digits, now
    assert status == 429 and "หลายครั้งเกินไป" in page and "ส่งต่อหน่วยงาน" not in page
    other = app.test_client()
    status, _ = other.post("/track", data={"csrf_token": token(other), "number": ticket.number,
                                           "proof": "5678"},
                           environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code, ""  # fmt: skip
    assert status == 200  # another address has its own count
    if with_redis:
        client_redis = redis.Redis.from_url(REDIS_URL)
        assert client_redis.ttl("hotline:track-lookups:127.0.0.1") > 0
