"""The agent desk: the live queue, taking a simulated caller, states, screen pop, wrap-up,
the browser phone's token, ringing the agent's own phone, and a ticket opened during a call."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from hotline.calls.desk import waiting_callers
from hotline.calls.desk_models import AgentStateEvent, QueueEntry
from hotline.calls.models import Call, call_tickets
from hotline.demo.phone import PhoneSimulator, QueueBehaviour, StepwiseCall, Transcript
from tests.factories import VALID_CITIZEN_ID, make_ticket, make_user
from tests.integration.test_console_auth import csrf, sign_in, username_of
from tests.integration.test_ticket_services import row_counts
from tests.twilio_client import FlaskTransport
from tests.twilio_standin import TwilioStandIn
from tests.voice import ACCOUNT, AUTH_TOKEN, BASE_URL, OFFICE_HOURS, call_row, event_kinds
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import AuditEvent, Ticket

SIMULATOR = f"{BASE_URL}/simulator/twilio"
CALLER = "+66812345678"
SECRET = "k" * 32  # API key secrets are 32 characters


@pytest.fixture
def sim_app(make_app: Callable[..., Flask]) -> Flask:
    """The embedded demo's telephony: no Twilio, the phone simulator plays it."""
    return make_app(twilio_api_base_url=SIMULATOR)


def agent_client(app: Flask, database: Database, role: str = "agent") -> tuple[FlaskClient, int]:
    actor = make_user(database, role)
    assert actor.user_id is not None
    client = app.test_client()
    assert sign_in(client, username_of(database, actor.user_id)) == 302
    return client, actor.user_id


def post(client: FlaskClient, path: str, **form: str) -> tuple[int, dict[str, object]]:
    token = csrf(client, "/console/desk")
    response = client.post(path, data=form, headers={"X-CSRF-Token": token})
    return response.status_code, response.get_json()


def phone_for(app: Flask, caller: str = CALLER) -> PhoneSimulator:
    transport = FlaskTransport(app.test_client())
    return PhoneSimulator(
        transport, base_url=BASE_URL, auth_token=AUTH_TOKEN, caller=caller, media_base_url=SIMULATOR
    )


class CallInBackground:
    """A caller who presses 0 and waits in the queue for a real agent on the desk."""

    def __init__(self, app: Flask, timeout_s: float = 20) -> None:
        self.transcript: Transcript | None = None
        queue = QueueBehaviour(live=True, timeout_s=timeout_s, poll_s=0.05)
        phone = phone_for(app)
        self.thread = threading.Thread(target=self._run, args=(phone, queue), daemon=True)
        self.thread.start()

    def _run(self, phone: PhoneSimulator, queue: QueueBehaviour) -> None:
        self.transcript = phone.call(["0"], queue=queue)

    def finish(self) -> Transcript:
        self.thread.join(timeout=20)
        assert self.transcript is not None, "the simulated call did not end"
        return self.transcript


def wait_for_queue(database: Database, count: int = 1) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if len(waiting_callers(database, OFFICE_HOURS)) == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} caller(s) never waited in the queue")


def first_events(client: FlaskClient) -> dict[str, dict[str, object]]:
    """The first queue and desk events of /console/live (the stream itself goes on)."""
    response = client.get("/console/live", buffered=False)
    assert response.mimetype == "text/event-stream"
    chunks: Iterator[bytes] = iter(response.response)
    text = ""
    events: dict[str, dict[str, object]] = {}
    assert next(chunks).decode() == "retry: 1000\n\n"
    while len(events) < 2:
        text = next(chunks).decode()
        name, data = text.strip().split("\n")
        events[name.removeprefix("event: ")] = json.loads(data.removeprefix("data: "))
    response.close()
    return events


def test_a_simulated_caller_is_queued_taken_popped_and_wrapped_up(
    sim_app: Flask, database: Database
) -> None:
    earlier = make_ticket(database, caller_phone="0812345678")
    client, agent_id = agent_client(sim_app, database)
    assert post(client, "/console/agent/state", state="available")[0] == 200

    caller = CallInBackground(sim_app)
    wait_for_queue(database)
    events = first_events(client)
    [waiting] = events["queue"]["callers"]  # type: ignore[index]
    assert waiting["phone"] == "08x xxx 5678" and waiting["tickets"] == 1
    assert waiting["path"] == "เมนูหลัก (กด 0)" and waiting["simulated"] is True  # no node ids
    assert events["desk"]["state"] == "available" and events["desk"]["pop"] is None

    status, desk = post(client, "/console/agent/take")
    assert status == 200 and desk["state"] == "on_call"
    pop = desk["pop"]
    assert isinstance(pop, dict)
    assert pop["phone"] == "081 234 5678" and pop["simulated"] is True
    assert pop["path"] == "เมนูหลัก (กด 0)"
    assert [t["number"] for t in pop["tickets"]] == [earlier.number]
    assert pop["new_ticket_url"] == f"/console/tickets/new?call={pop['call_sid']}"
    assert waiting_callers(database, OFFICE_HOURS) == []
    assert post(client, "/console/agent/take")[0] == 409  # one call at a time

    status, desk = post(client, "/console/agent/end")
    assert status == 200 and desk["state"] == "wrap_up"
    transcript = caller.finish()
    assert "[agent answers: audio simulated]" in transcript.heard
    call = call_row(sim_app_db(sim_app), transcript.call_sid)
    assert call.agent_id == agent_id and call.outcome == "answered"
    assert ("connect", None, None) in event_kinds(database, transcript.call_sid)

    # Only the agent on the call may open a ticket for it: the form shows the whole number.
    assert client.get(f"/console/tickets/new?call={transcript.call_sid}").status_code == 200
    other, _ = agent_client(sim_app, database)
    assert other.get(f"/console/tickets/new?call={transcript.call_sid}").status_code == 403

    assert post(client, "/console/agent/state", state="available")[0] == 409  # wrap-up first
    assert post(client, "/console/agent/wrap-up", disposition="")[0] == 400
    assert post(client, "/console/agent/wrap-up", disposition="made-up")[0] == 400
    status, desk = post(client, "/console/agent/wrap-up", disposition="ticket_filed")
    assert status == 200 and desk["state"] == "available" and desk["pop"] is None
    assert call_row(database, transcript.call_sid).disposition == "ticket_filed"
    with UnitOfWork(database) as uow:
        moves = uow.session.execute(
            select(AgentStateEvent.previous, AgentStateEvent.state, AgentStateEvent.reason)
            .where(AgentStateEvent.user_id == agent_id)
            .order_by(AgentStateEvent.id)
        ).all()
    assert [tuple(m) for m in moves] == [
        ("away", "available", "manual"), ("available", "on_call", "call_taken"),
        ("on_call", "wrap_up", "call_ended"), ("wrap_up", "available", "wrap_up"),
    ]  # fmt: skip


def sim_app_db(app: Flask) -> Database:
    from hotline.runtime import runtime

    return runtime(app).db


def test_a_simulated_caller_who_hangs_up_on_the_agent_ends_the_desk_call(
    sim_app: Flask, database: Database
) -> None:
    client, agent_id = agent_client(sim_app, database)
    assert post(client, "/console/agent/state", state="available")[0] == 200
    caller = StepwiseCall(phone_for(sim_app), save_media=lambda sid, wav: None, clock=time.time)
    step = caller.keys(caller.dial().progress, "0")
    assert step.progress.waiting == "queue"
    status, desk = post(client, "/console/agent/take")
    assert status == 200 and desk["state"] == "on_call"

    assert caller.hang_up(step.progress).progress.waiting == "ended"
    assert first_events(client)["desk"]["state"] == "wrap_up"  # the desk hears it at once
    assert post(client, "/console/agent/end")[0] == 409  # nothing left to hang up
    with UnitOfWork(database) as uow:
        entry = uow.session.scalars(select(QueueEntry)).one()
        last = uow.session.scalars(
            select(AgentStateEvent).where(AgentStateEvent.user_id == agent_id)
            .order_by(AgentStateEvent.id.desc())
        ).first()  # fmt: skip
    assert entry.bridge_ended_at is not None
    assert last is not None and (last.state, last.reason) == ("wrap_up", "caller_hung_up")
    assert post(client, "/console/agent/wrap-up", disposition="ticket_filed")[0] == 200


def test_the_simulated_hang_up_hook_is_not_there_with_real_twilio(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(twilio_api_base_url="http://127.0.0.1:9/twilio-standin")
    url = f"{BASE_URL}/twilio/sim/caller-left"
    params = {"CallSid": "CA" + "1" * 32, "AccountSid": ACCOUNT}
    phone = phone_for(app)
    response = app.test_client().post(url, data=params, headers=phone.sign(url, params))
    assert response.status_code == 404


def test_a_caller_who_hangs_up_leaves_the_live_queue(sim_app: Flask, database: Database) -> None:
    transcript = phone_for(sim_app).call(["0"], queue=QueueBehaviour(answered=False))
    assert transcript.ended_by == "caller"
    assert waiting_callers(database, OFFICE_HOURS) == []
    with UnitOfWork(database) as uow:
        entry = uow.session.scalars(select(QueueEntry)).one()
    assert entry.left_reason in ("left", "ended") and entry.left_at is not None
    assert entry.ivr_choices.get("queued_at") is None  # our bookkeeping, not the caller's


def test_desk_actions_refuse_what_cannot_be_done_now(sim_app: Flask, database: Database) -> None:
    client, _ = agent_client(sim_app, database)
    before = row_counts(database)
    assert post(client, "/console/agent/state", state="on_call")[0] == 400  # automatic only
    assert post(client, "/console/agent/state", state="")[0] == 400
    assert post(client, "/console/agent/take")[1]["error"] == "queue_empty"
    assert post(client, "/console/agent/end")[0] == 409
    assert post(client, "/console/agent/wrap-up", disposition="resolved")[0] == 409
    assert row_counts(database) == before
    assert post(client, "/console/agent/state", state="away")[0] == 200
    assert post(client, "/console/agent/state", state="away")[0] == 200  # no change, no event
    assert row_counts(database)["agent_state_events"] == 0


def test_the_queue_and_desk_pages_render_for_agents(sim_app: Flask, database: Database) -> None:
    client, _ = agent_client(sim_app, database)
    desk = client.get("/console/desk").get_data(as_text=True)
    assert "ระบบสาธิต: การรับสายเป็นการจำลอง" in desk and 'id="take-next"' in desk
    assert "twilio.min.js" not in desk  # no SDK without Twilio
    queue = client.get("/console/queue").get_data(as_text=True)
    assert 'id="queue-rows"' in queue and "desk.js" in queue


def test_real_telephony_offers_the_browser_phone_and_refuses_simulated_takes(
    voice_app: Flask, database: Database
) -> None:
    client, _ = agent_client(voice_app, database)
    desk = client.get("/console/desk").get_data(as_text=True)
    assert "twilio.min.js" in desk and "TWILIO_API_KEY_SID" in desk
    assert post(client, "/console/agent/take")[1]["error"] == "real_telephony"


def test_the_token_endpoint_says_what_is_missing(voice_app: Flask, database: Database) -> None:
    client, _ = agent_client(voice_app, database)
    response = client.get("/console/agent/token")
    assert response.status_code == 503
    assert response.get_json()["missing"] == [
        "TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET", "TWILIO_TWIML_APP_SID"
    ]  # fmt: skip


def test_the_token_carries_a_voice_grant_for_the_agent(
    make_app: Callable[..., Flask], database: Database
) -> None:
    app = make_app(twilio_api_key_sid="SK" + "1" * 32, twilio_api_key_secret=SECRET,
                   twilio_twiml_app_sid="AP" + "2" * 32)  # fmt: skip
    client, agent_id = agent_client(app, database)
    body = client.get("/console/agent/token").get_json()
    claims = jwt.decode(body["token"], SECRET, algorithms=["HS256"])
    assert claims["iss"] == "SK" + "1" * 32 and claims["sub"] == ACCOUNT
    assert claims["grants"]["identity"] == f"agent-{agent_id}" == body["identity"]
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == "AP" + "2" * 32


def test_ringing_the_agents_own_phone_asks_twilio_to_bridge_the_queue(
    make_app: Callable[..., Flask], database: Database, tmp_path: Path
) -> None:
    standin = TwilioStandIn(ACCOUNT, AUTH_TOKEN).start()
    try:
        app = make_app(twilio_api_base_url=standin.base_url)
        client, agent_id = agent_client(app, database)
        status, body = post(client, "/console/agent/call-me", phone="081 111 2222")
        assert status == 200 and body["phone"] == "08x xxx 2222"
        [placed] = standin.calls
        assert placed["To"] == "+66811112222" and placed["From"] == "1567"
        assert placed["Url"] == f"{BASE_URL}/twilio/agent?agent={agent_id}"
        assert post(client, "/console/agent/call-me", phone="12")[0] == 400
        assert post(client, "/console/agent/call-me", phone="+44 20 7946 0958")[0] == 400
        assert len(standin.calls) == 1
        with UnitOfWork(database) as uow:
            audited = uow.session.scalars(
                select(AuditEvent).where(AuditEvent.action == "agent.call_me")
            ).one()
        assert audited.actor_id == agent_id and audited.after == {"phone": "08x xxx 2222"}
    finally:
        standin.stop()


def test_the_own_phone_is_refused_without_twilio(sim_app: Flask, database: Database) -> None:
    client, _ = agent_client(sim_app, database)
    assert post(client, "/console/agent/call-me", phone="0811112222")[1]["error"] == "simulated"


# A ticket during a call --------------------------------------------------------------------


def finished_call(app: Flask) -> str:
    transcript = phone_for(app).call(["0"], queue=QueueBehaviour(answered=True))
    return transcript.call_sid


def test_a_ticket_opened_during_a_call_is_linked_to_it(sim_app: Flask, database: Database) -> None:
    call_sid = finished_call(sim_app)
    client, _ = agent_client(sim_app, database, "supervisor")  # supervisors may file for any call
    page = client.get(f"/console/tickets/new?call={call_sid}").get_data(as_text=True)
    assert "081 234 5678" in page and f'value="{call_sid}"' in page
    form = {"csrf_token": csrf(client, "/console/desk"), "call": call_sid, "category": "land",
            "province": "50", "district": "5001", "postal_code": "50200",
            "citizen_id": VALID_CITIZEN_ID, "citizen_name": "สมหญิง ใจงาม",
            "description": "เพื่อนบ้านสร้างรั้วรุกล้ำที่ดิน"}  # fmt: skip
    response = client.post("/console/tickets/new", data=form)
    assert response.status_code == 302
    number = response.headers["Location"].rsplit("/", 1)[1]
    with UnitOfWork(database) as uow:
        ticket = uow.session.scalars(select(Ticket).where(Ticket.number == number)).one()
        linked = uow.session.execute(
            select(Call.call_sid).join(call_tickets).where(call_tickets.c.ticket_id == ticket.id)
        ).scalar_one()
    assert linked == call_sid
    assert ticket.channel == "phone" and ticket.caller_phone == CALLER
    assert ticket.district_code == "5001"


def test_a_bad_ticket_form_writes_nothing(sim_app: Flask, database: Database) -> None:
    call_sid = finished_call(sim_app)
    client, _ = agent_client(sim_app, database, "supervisor")
    before = row_counts(database)
    bad_id = {"csrf_token": csrf(client, "/console/desk"), "call": call_sid, "category": "land",
              "province": "50", "citizen_id": "1101700207031", "description": "ทดสอบ"}  # fmt: skip
    response = client.post("/console/tickets/new", data=bad_id)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "สร้างเรื่องไม่สำเร็จ" in page
    # The agent's words from the error's field and rule, never the exception's English.
    assert "หลักตรวจสอบไม่ตรง" in page and "citizen_id:" not in page and "check digit" not in page
    assert 'aria-invalid="true"' in page
    wrong_district = {**bad_id, "citizen_id": "", "district": "1001"}
    response = client.post("/console/tickets/new", data=wrong_district)
    assert response.status_code == 400 and "district_code" not in response.get_data(as_text=True)
    assert "อำเภอ/เขตที่เลือกไม่อยู่ในจังหวัดที่เลือก" in response.get_data(as_text=True)
    assert row_counts(database) == before
    assert client.get("/console/tickets/new?call=CA" + "f" * 32).status_code == 404


def test_the_location_pickers_and_the_citizen_id_check(sim_app: Flask, database: Database) -> None:
    client, _ = agent_client(sim_app, database)
    districts = client.get("/console/geo/districts?province=50").get_json()["districts"]
    assert {"code": "5001", "name": "เมืองเชียงใหม่"} in districts
    assert client.get("/console/geo/districts?province=99").status_code == 400
    found = client.get("/console/geo/postal-code?code=50200").get_json()["districts"]
    assert found[0]["province"] == "50" and found[0]["district"] == "5001"
    assert client.get("/console/geo/postal-code?code=5020x").status_code == 400
    check = "/console/citizen-id/check?value="
    assert client.get(check + VALID_CITIZEN_ID).get_json()["valid"] is True
    assert client.get(check + "1-1017-00207-03-1").get_json()["valid"] is False
    assert "13 หลัก" in client.get(check + "11017").get_json()["message"]
