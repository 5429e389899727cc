"""The browser phone's server side: signed webhooks from a session-bound call; no secret out."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from config import SettingsError
from hotline.calls.models import Call
from hotline.demo.phone import tone_wav
from recordings.models import Recording
from tests.factories import make_user
from tests.integration.test_agent_desk import SIMULATOR, agent_client
from tests.integration.test_agent_desk import post as desk_post
from tests.integration.test_console_auth import csrf, sign_in, username_of
from tests.voice import AUTH_TOKEN, call_row, event_kinds
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import Ticket


def signed_in_agent(app: Flask, database: Database) -> tuple[FlaskClient, str]:
    client = app.test_client()
    sign_in(client, username_of(database, make_user(database, "agent").user_id))
    return client, csrf(client, "/simulator/")


def post(client: FlaskClient, token: str, path: str, **data: Any) -> dict[str, Any]:
    response = client.post(f"/simulator/{path}", data=data, headers={"X-CSRF-Token": token})
    assert response.status_code == 200, response.get_data(as_text=True)
    answer: dict[str, Any] = response.get_json()
    return answer


def test_a_browser_call_files_a_complaint_with_the_callers_words(
    make_app: Callable[..., Flask], database: Database, tmp_path: Path
) -> None:
    app = make_app()
    client, token = signed_in_agent(app, database)
    page = client.get("/simulator/").get_data(as_text=True)
    assert "ไม่มีการต่อสายโทรศัพท์จริง" in page and AUTH_TOKEN not in page

    answer = post(client, token, "call", number="1567")
    assert "ศูนย์ดำรงธรรม" in " ".join(answer["heard"]) and answer["waiting"] == "keys"
    for digits in ("1", "1", "50200", "1", "#"):
        answer = post(client, token, "keys", digits=digits)
        assert answer["waiting"] in ("keys", "record"), answer
    assert answer["waiting"] == "record"
    wav = tone_wav(3.0)
    upload = {"audio": (io.BytesIO(wav), "caller.wav")}
    response = client.post("/simulator/record", data=upload, headers={"X-CSRF-Token": token},
                           content_type="multipart/form-data")  # fmt: skip
    answer = response.get_json()
    assert "เลขที่เรื่องของท่านคือ" in " ".join(answer["heard"])
    answer = post(client, token, "hangup")
    assert answer["waiting"] == "ended"

    with UnitOfWork(database) as uow:
        call = uow.session.scalars(select(Call).where(Call.call_sid == answer["call_sid"])).one()
        ticket = uow.session.scalars(select(Ticket)).one()
        recording = uow.session.scalars(select(Recording)).one()
    assert call.twilio_status == "completed" and not call.is_training
    assert not ticket.is_training and ticket.channel == "phone"
    assert recording.ticket_id == ticket.id and recording.duration_s == 3
    # Where the app's fetch job downloads it, as from Twilio's media host.
    assert (tmp_path / "simulator-media" / f"{recording.sid}.wav").read_bytes() == wav


def test_the_browser_phone_refuses_what_the_call_does_not_wait_for(
    make_app: Callable[..., Flask], database: Database
) -> None:
    client, token = signed_in_agent(make_app(), database)
    headers = {"X-CSRF-Token": token}
    assert client.post("/simulator/keys", data={"digits": "1"}, headers=headers).status_code == 409
    wrong = client.post("/simulator/call", data={"number": "191"}, headers=headers)
    assert wrong.status_code == 400 and wrong.get_json()["error"] == "wrong_number"
    assert client.post("/simulator/call", data={"number": "1567"}).status_code == 400  # no CSRF
    post(client, token, "call", number="1567")
    assert client.post("/simulator/keys", data={"digits": "1a"}, headers=headers).status_code == 400
    not_wav = {"audio": (io.BytesIO(b"OggS..."), "caller.ogg")}
    refused = client.post("/simulator/record", data=not_wav, headers=headers,
                          content_type="multipart/form-data")  # fmt: skip
    assert refused.status_code == 400
    # Another browser session cannot act on this call.
    other, other_token = signed_in_agent(make_app(), database)
    assert other.post("/simulator/hangup", headers={"X-CSRF-Token": other_token}).status_code == 409


# The queue: an agent on the desk takes the browser's caller -----------------------------------


def queued_browser_caller(app: Flask, database: Database) -> tuple[FlaskClient, str, str]:
    """A browser phone that dialled 1567 and pressed 0: waiting in the agents' queue."""
    client, token = signed_in_agent(app, database)
    call_sid = post(client, token, "call", number="1567")["call_sid"]
    assert post(client, token, "keys", digits="0")["waiting"] == "queue"
    return client, token, call_sid


def test_an_agent_takes_the_browser_caller_then_the_call_goes_on_to_the_survey(
    make_app: Callable[..., Flask], database: Database
) -> None:
    app = make_app(twilio_api_base_url=SIMULATOR)  # the embedded demo's simulated telephony
    caller, token, call_sid = queued_browser_caller(app, database)
    assert post(caller, token, "queue")["waiting"] == "queue"  # nobody has taken it yet
    desk, agent_id = agent_client(app, database)
    assert desk_post(desk, "/console/agent/state", state="available")[0] == 200
    status, taken = desk_post(desk, "/console/agent/take")
    assert status == 200 and taken["call_sid"] == call_sid

    answer = post(caller, token, "queue")
    assert answer["waiting"] == "agent" and answer["answered"] is True and answer["heard"] == []
    assert post(caller, token, "queue")["waiting"] == "agent"  # talking until the agent hangs up
    assert desk_post(desk, "/console/agent/end")[0] == 200
    answer = post(caller, token, "queue")
    assert answer["waiting"] == "keys" and "ความพึงพอใจ" in " ".join(answer["heard"])
    assert post(caller, token, "keys", digits="5")["waiting"] == "ended"

    call = call_row(database, call_sid)
    assert call.agent_id == agent_id and call.outcome == "answered"
    assert call.twilio_status == "completed"
    kinds = [kind for kind, _node, _value in event_kinds(database, call_sid)]
    assert kinds.count("connect") == 1 and "abandon" not in kinds and "survey_answer" in kinds
    assert desk_post(desk, "/console/agent/wrap-up", disposition="resolved")[0] == 200


def test_hanging_up_in_the_queue_is_an_abandon_and_talking_to_an_agent_is_not(
    make_app: Callable[..., Flask], database: Database
) -> None:
    app = make_app(twilio_api_base_url=SIMULATOR)
    caller, token, gave_up = queued_browser_caller(app, database)
    assert post(caller, token, "hangup")["waiting"] == "ended"
    assert "abandon" in [kind for kind, _node, _value in event_kinds(database, gave_up)]
    assert call_row(database, gave_up).agent_id is None

    caller, token, talked = queued_browser_caller(app, database)
    desk, agent_id = agent_client(app, database)
    desk_post(desk, "/console/agent/state", state="available")
    assert desk_post(desk, "/console/agent/take")[0] == 200
    assert post(caller, token, "queue")["waiting"] == "agent"
    assert post(caller, token, "hangup")["waiting"] == "ended"  # the caller ends the talk
    kinds = [kind for kind, _node, _value in event_kinds(database, talked)]
    assert "abandon" not in kinds and "complete" in kinds
    assert call_row(database, talked).agent_id == agent_id


def test_the_queue_question_is_bound_to_the_session_and_to_a_queued_call(
    make_app: Callable[..., Flask], database: Database
) -> None:
    app = make_app(twilio_api_base_url=SIMULATOR)
    client, token = signed_in_agent(app, database)
    headers = {"X-CSRF-Token": token}
    assert client.post("/simulator/queue", headers=headers).status_code == 409  # no call
    post(client, token, "call", number="1567")
    refused = client.post("/simulator/queue", headers=headers)  # the menu waits for keys
    assert refused.status_code == 409 and refused.get_json()["error"] == "not_waiting_for_that"
    assert post(client, token, "keys", digits="0")["waiting"] == "queue"
    assert client.post("/simulator/queue").status_code == 400  # no CSRF token
    assert client.get("/simulator/queue").status_code == 405
    other, other_token = signed_in_agent(app, database)
    assert other.post("/simulator/queue", headers={"X-CSRF-Token": other_token}).status_code == 409
    assert post(client, token, "queue")["waiting"] == "queue"  # still this session's call


@pytest.mark.parametrize("environment", ["production", "test"])
def test_the_simulator_is_refused_outside_the_demo_and_training(
    make_app: Callable[..., Flask], database: Database, environment: str
) -> None:
    production = {"secret_key": "s" * 40, "public_base_url": "https://hotline.example",
                  "twilio_account_sid": "AC" + "1" * 32}  # fmt: skip
    app = make_app(environment=environment, **(production if environment == "production" else {}))
    client = app.test_client()
    sign_in(client, username_of(database, make_user(database, "admin").user_id))
    assert client.get("/simulator/").status_code == 404
    assert (
        client.get(f"/simulator/twilio/2010-04-01/Accounts/AC{'1' * 32}/Recordings/RE1").status_code
        == 404
    )


def test_training_mode_opens_the_simulator_but_never_in_production(
    make_app: Callable[..., Flask], database: Database
) -> None:
    app = make_app(environment="test", training_mode=True)
    client, _token = signed_in_agent(app, database)
    assert client.get("/simulator/").status_code == 200
    with pytest.raises(SettingsError, match="TRAINING_MODE"):
        make_app(environment="production", training_mode=True, secret_key="s" * 40)
