"""Training mode: a trainee's practice call scored, batch reports, practice tickets kept apart."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.runtime import runtime
from tests.factories import make_ticket, make_user
from tests.integration.test_api import call, token_for
from tests.integration.test_console_auth import csrf, sign_in, username_of
from tests.voice import OFFICE_HOURS
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import Ticket
from ticketing.practice import PracticeCall

LAND_FORM = {
    "category": "land",
    "province": "50",
    "district": "5014",
    "citizen_id": "3914177763175",
    "description": "เพื่อนบ้านล้อมรั้วรุกล้ำที่นา ผู้ร้องมีโฉนด ขอให้รังวัด",
}


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


def client_for(app: Flask, database: Database, role: str) -> tuple[FlaskClient, str, str]:
    actor = make_user(database, role)
    username = username_of(database, actor.user_id)
    client = app.test_client()
    sign_in(client, username)
    return client, username, csrf(client, "/training/")


def start(client: FlaskClient, token: str, scenario: str = "land-encroachment") -> int:
    response = client.post("/training/practice", data={"scenario": scenario, "csrf_token": token})
    assert response.status_code == 302
    match = re.search(r"/training/practice/(\d+)$", response.headers["Location"])
    assert match
    return int(match.group(1))


def practice_row(database: Database, practice_id: int) -> PracticeCall:
    with UnitOfWork(database) as uow:
        row = uow.session.get(PracticeCall, practice_id)
    assert row is not None
    return row


def test_a_trainee_files_a_practice_ticket_and_trainers_see_the_scores(
    app: Flask, database: Database
) -> None:
    trainer, _, trainer_token = client_for(app, database, "supervisor")
    trainee, trainee_name, token = client_for(app, database, "agent")
    batch = {"name": "รุ่นที่ 1 ภาคเหนือ", "usernames": trainee_name, "csrf_token": trainer_token}
    created = trainer.post("/training/batches", data=batch)
    assert created.status_code == 302
    batch_url = created.headers["Location"]

    practice_id = start(trainee, token)
    page = trainee.get(f"/training/practice/{practice_id}").get_data(as_text=True)
    assert "นางสมศรี ใจดี" in page and "ล้อมรั้ว" in page  # the caller and her story
    runtime(app).clock = lambda: OFFICE_HOURS + timedelta(minutes=30)  # a slow trainee
    wrong = {**LAND_FORM, "category": "nuisance", "description": "เพื่อนบ้านล้อมรั้ว มีโฉนด",
             "csrf_token": token}  # fmt: skip
    filed = trainee.post(f"/training/practice/{practice_id}/ticket", data=wrong)
    assert filed.status_code == 302
    result = trainee.get(f"/training/practice/{practice_id}").get_data(as_text=True)
    row = practice_row(database, practice_id)
    assert row.score_percent is not None and row.score_percent < 100
    assert f"{row.score_percent}%" in result
    parts = {(d["part"], d["expected"]): d["points"] for d in row.details or []}
    assert parts[("category", "land")] == 0 and parts[("fact", "ขอให้รังวัดที่ดิน")] == 0
    assert parts[("province", "50")] == 10 and parts[("citizen_id", "3914177763175")] == 15
    assert row.batch_id is not None and row.seconds is not None and row.seconds == 1800
    with UnitOfWork(database) as uow:
        ticket = uow.session.get(Ticket, row.ticket_id)
    assert ticket is not None and ticket.is_training and ticket.citizen_name == "นางสมศรี ใจดี"

    report = trainer.get(batch_url).get_data(as_text=True)
    assert "รุ่นที่ 1 ภาคเหนือ" in report and f"{float(row.score_percent)}%" in report
    trainee_url = re.search(r'href="(/training/trainees/\d+)"', report)
    assert trainee_url
    assert f"{row.score_percent}%" in trainer.get(trainee_url.group(1)).get_data(as_text=True)
    assert trainee.get(batch_url).status_code == 403  # trainees do not see the batch report
    # Filed once: a second ticket for the same practice call is refused.
    again = trainee.post(f"/training/practice/{practice_id}/ticket",
                         data={**LAND_FORM, "csrf_token": token})  # fmt: skip
    assert again.status_code == 400


def test_a_wrong_practice_ticket_is_refused_and_writes_nothing(
    app: Flask, database: Database
) -> None:
    trainee, _, token = client_for(app, database, "agent")
    practice_id = start(trainee, token)
    bad = {**LAND_FORM, "province": "99", "csrf_token": token}
    response = trainee.post(f"/training/practice/{practice_id}/ticket", data=bad)
    assert response.status_code == 400 and "บันทึกไม่สำเร็จ" in response.get_data(as_text=True)
    with UnitOfWork(database) as uow:
        assert uow.session.scalars(select(Ticket)).first() is None
    assert practice_row(database, practice_id).ticket_id is None
    # Someone else's practice call is not there for another trainee.
    other, _, other_token = client_for(app, database, "agent")
    assert other.get(f"/training/practice/{practice_id}").status_code == 404
    assert other.post("/training/practice", data={"scenario": "nope", "csrf_token": other_token}
                      ).status_code == 404  # fmt: skip


def test_a_batch_with_unknown_trainees_is_refused(app: Flask, database: Database) -> None:
    trainer, _, token = client_for(app, database, "admin")
    batch = {"name": "รุ่น 2", "usernames": "nobody", "csrf_token": token}
    response = trainer.post("/training/batches", data=batch)
    assert response.status_code == 400 and "nobody" in response.get_data(as_text=True)


def test_practice_tickets_stay_out_of_the_console_and_the_api(
    app: Flask, database: Database
) -> None:
    real = make_ticket(database, description="เรื่องจริง")
    trainee, _, token = client_for(app, database, "agent")
    practice_id = start(trainee, token)
    trainee.post(
        f"/training/practice/{practice_id}/ticket", data={**LAND_FORM, "csrf_token": token}
    )
    training = practice_row(database, practice_id)
    with UnitOfWork(database) as uow:
        practice_ticket = uow.session.get(Ticket, training.ticket_id)
    assert practice_ticket is not None and practice_ticket.is_training

    home = trainee.get("/console/").get_data(as_text=True)
    assert real.number[2:-1] in home and practice_ticket.number[2:-1] not in home
    api_token = token_for(database, "tickets:read")
    client = app.test_client()
    listed = call(client, "GET", "/api/v1/tickets", api_token).get_json()
    numbers = {t["number"] for t in listed["data"]}
    assert real.number in numbers and practice_ticket.number not in numbers
    one = call(client, "GET", f"/api/v1/tickets/{practice_ticket.number}", api_token)
    assert one.status_code == 404
