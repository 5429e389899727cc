"""The agent's leg: /twilio/agent dials the queue recorded in dual channel, the <Queue url>
bridge pops the caller on the desk, the <Dial> action moves the agent to wrap-up, and the
recording of the conversation joins the caller's call in the recording pipeline."""

from __future__ import annotations

from collections.abc import Callable

from defusedxml.ElementTree import fromstring
from flask import Flask
from sqlalchemy import select

from hotline.calls.desk import agent_view, waiting_callers
from hotline.calls.desk_models import AgentStatus, QueueEntry
from hotline.demo.phone import QueueBehaviour
from recordings.models import Recording
from tests.factories import make_agency, make_user
from tests.voice import BASE_URL, OFFICE_HOURS, call_row
from tests.webhooks.payloads import payload, post, said, signed_post
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

AGENT_LEG = payload("agent/client_incoming")["CallSid"]


def checked(app: Flask, url: str, params: dict[str, str]) -> str:
    return post(app, url, params).body


def browser_phone(uid: int | str, **changes: str | None) -> dict[str, str]:
    """The browser phone's request, from the agent's Voice SDK identity."""
    who = uid if isinstance(uid, str) else f"client:agent-{uid}"
    return payload("agent/client_incoming", From=who, Caller=who, **changes)


def agent_id(database: Database, role: str = "agent") -> int:
    actor = make_user(database, role)
    assert actor.user_id is not None
    return actor.user_id


def test_the_browser_phone_dials_the_queue_recording_both_channels(
    voice_app: Flask, database: Database
) -> None:
    uid = agent_id(database)
    params = browser_phone(uid)
    assert params["To"] == "" and params["Direction"] == "inbound"
    body = checked(voice_app, f"{BASE_URL}/twilio/agent", params)
    [dial] = fromstring(body)
    assert dial.tag == "Dial" and dial.get("record") == "record-from-answer-dual"
    assert dial.get("action") == f"{BASE_URL}/twilio/agent/done?agent={uid}"
    assert dial.get("recordingStatusCallback") == f"{BASE_URL}/twilio/agent/recording?agent={uid}"
    [queue] = dial
    assert queue.tag == "Queue" and queue.text == "agents"
    assert queue.get("url") == f"{BASE_URL}/twilio/agent/bridge?agent={uid}"


def test_the_own_phone_leg_names_its_agent_in_the_signed_url(
    voice_app: Flask, database: Database
) -> None:
    uid = agent_id(database, "supervisor")
    # The REST call that rings the agent's own phone: from the hotline to the agent's number.
    params = payload(
        "voice/incoming_call",
        CallSid=AGENT_LEG,
        From="+6621001567",
        To="+66811112222",
        Direction="outbound-api",
        CallStatus="in-progress",
    )
    body = checked(voice_app, f"{BASE_URL}/twilio/agent?agent={uid}", params)
    assert [v.tag for v in fromstring(body)] == ["Dial"]


def test_strangers_are_not_put_through_to_callers(voice_app: Flask, database: Database) -> None:
    agency = make_user(database, "agency", agency_code=make_agency(database).code)
    for who in ("client:agent-999999", f"client:agent-{agency.user_id}", "client:someone", ""):
        body = checked(voice_app, f"{BASE_URL}/twilio/agent", browser_phone(who))
        assert [v.tag for v in fromstring(body)] == ["Say", "Hangup"]
        assert "ไม่สามารถรับสาย" in said(body)
    unsigned = voice_app.test_client().post("/twilio/agent", data=browser_phone(1))
    assert unsigned.status_code == 403


def queue_a_caller(make_phone: Callable[..., object]) -> str:
    phone = make_phone()
    transcript = phone.call(["0"], queue=QueueBehaviour(answered=False))  # type: ignore[attr-defined]
    sid: str = transcript.call_sid
    return sid


def put_back_in_the_queue(database: Database, make_phone: Callable[..., object]) -> str:
    """A caller who went through the IVR to the queue and is still waiting there."""
    caller_sid = queue_a_caller(make_phone)
    with UnitOfWork(database) as uow:  # put the caller back in the queue, as if still waiting
        entry = uow.session.scalars(select(QueueEntry)).one()
        entry.left_at = entry.left_reason = None
        uow.commit()
    call_row(database, caller_sid)  # the call log has the caller
    return caller_sid


def test_the_bridge_pops_the_caller_and_the_end_of_the_leg_starts_wrap_up(
    voice_app: Flask, database: Database, make_phone: Callable[..., object]
) -> None:
    uid = agent_id(database)
    caller_sid = put_back_in_the_queue(database, make_phone)

    bridge = payload("agent/bridge", CallSid=caller_sid)
    assert bridge["DequeingCallSid"] == AGENT_LEG and bridge["QueueTime"] == "7"
    checked(voice_app, f"{BASE_URL}/twilio/agent/bridge?agent={uid}", bridge)
    me = agent_view(database, uid)
    assert me.state == "on_call" and me.call_sid == caller_sid
    assert waiting_callers(database, OFFICE_HOURS) == []
    assert call_row(database, caller_sid).agent_id == uid

    done = payload("agent/dial_action", DialCallSid=caller_sid)
    assert (done["CallSid"], done["DialCallStatus"], done["DialBridged"]) == (
        AGENT_LEG, "completed", "true")  # fmt: skip
    body = checked(voice_app, f"{BASE_URL}/twilio/agent/done?agent={uid}", done)
    assert [v.tag for v in fromstring(body)] == ["Hangup"]
    assert agent_view(database, uid).state == "wrap_up"

    recording = payload("agent/recording")
    assert recording["CallSid"] == AGENT_LEG and recording["RecordingStatus"] == "completed"
    checked(voice_app, f"{BASE_URL}/twilio/agent/recording?agent={uid}", recording)
    with UnitOfWork(database) as uow:
        row = uow.session.scalars(select(Recording)).one()
    assert row.call_sid == caller_sid and row.channels == 2 and row.duration_s == 42
    assert (row.sid, row.source) == (recording["RecordingSid"], "DialVerb")


def test_an_agent_still_in_wrap_up_is_not_given_another_caller(
    voice_app: Flask, database: Database
) -> None:
    uid = agent_id(database)
    with UnitOfWork(database) as uow:
        uow.session.add(AgentStatus(user_id=uid, state="wrap_up", since=OFFICE_HOURS))
        uow.commit()
    body = checked(voice_app, f"{BASE_URL}/twilio/agent", browser_phone(uid))
    assert [v.tag for v in fromstring(body)] == ["Say", "Hangup"]
    assert "สรุปการสนทนาก่อนรับสายใหม่" in said(body)


def test_an_empty_queue_tells_the_agent_and_hangs_up(voice_app: Flask, database: Database) -> None:
    uid = agent_id(database)
    # Nobody was waiting: the <Dial><Queue> timed out, no child leg, nothing bridged.
    done = payload(
        "agent/dial_action",
        DialCallStatus="no-answer",
        DialBridged="false",
        DialCallSid=None,
        DialCallDuration=None,
    )
    body = checked(voice_app, f"{BASE_URL}/twilio/agent/done?agent={uid}", done)
    assert "ไม่มีผู้โทรรอสาย" in said(body)
    assert agent_view(database, uid).state == "away"  # never on a call: nothing to wrap up


def test_the_simulated_queue_member_reports_where_the_caller_stands(
    make_app: Callable[..., Flask], database: Database
) -> None:
    demo = make_app(twilio_api_base_url=f"{BASE_URL}/simulator/twilio")
    unknown = signed_post(demo.test_client(), f"{BASE_URL}/twilio/sim/queue-member",
                          {"CallSid": "CA" + "9" * 32})  # fmt: skip
    assert unknown.get_json() == {"state": "gone", "agent": ""}


def test_the_simulated_queue_is_not_served_with_real_twilio(voice_app: Flask) -> None:
    for path in ("/twilio/sim/queue-member", "/twilio/sim/caller-left"):
        response = signed_post(voice_app.test_client(), f"{BASE_URL}{path}",
                               {"CallSid": "CA" + "9" * 32})  # fmt: skip
        assert response.status_code == 404, path
