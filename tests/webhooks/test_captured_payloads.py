"""Every captured Twilio payload (fixtures/), posted signed where Twilio would post it: the
answer is 200 and valid TwiML, the right next thing happens, and a replay changes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from flask import Flask
from sqlalchemy import select

from hotline.calls.desk_models import QueueEntry
from hotline.calls.models import CallEvent
from hotline.twilio.messaging import REPLIES
from recordings.models import Recording
from tests.voice import BASE_URL, call_row, count, event_kinds
from tests.webhooks.payloads import (
    FIXTURES,
    Answer,
    CallWalk,
    fixture_names,
    payload,
    post,
    post_fixture,
    raw_body,
    replay,
)
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import SmsMessage, SmsOptOut, Ticket

SID = payload("voice/incoming_call")["CallSid"]
CALLER = payload("voice/incoming_call")["From"]
SID_SHAPE = re.compile(r"[A-Z]{2}[0-9a-f]{32}")
SID_FIELDS = {"AccountSid", "CallSid", "ParentCallSid", "RecordingSid", "QueueSid", "DialCallSid",
              "DequeingCallSid", "MessageSid", "SmsSid", "SmsMessageSid", "MessagingServiceSid",
              "ApplicationSid"}  # fmt: skip
PREFIXES = {"AccountSid": "AC", "RecordingSid": "RE", "QueueSid": "QU", "MessageSid": "SM",
            "MessagingServiceSid": "MG", "ApplicationSid": "AP"}  # fmt: skip
NUMBER_FIELDS = {"From", "To", "Caller", "Called"}


# The fixtures themselves ----------------------------------------------------------------------


def test_there_is_a_fixture_for_every_documented_webhook() -> None:
    names = set(fixture_names())
    assert {n.partition("/")[0] for n in names} == {"voice", "recording", "queue", "agent", "sms"}
    assert len(names) >= 30, sorted(names)


@pytest.mark.parametrize("name", fixture_names())
def test_every_fixture_is_a_twilio_shaped_body_and_listed_in_the_readme(name: str) -> None:
    fields = payload(name)
    assert raw_body(name) == urlencode(fields), "not one url-encoded line as Twilio sends it"
    for field, value in fields.items():
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", field), f"{field}: not in Twilio's casing"
        if field in SID_FIELDS:
            assert SID_SHAPE.fullmatch(value), f"{field}={value}"
            assert value.startswith(PREFIXES.get(field, value[:2])), f"{field}={value}"
        if field in NUMBER_FIELDS and value:
            assert re.fullmatch(r"\+66[1-9][0-9]{7,8}|client:agent-[0-9]+", value), value
    assert fields["AccountSid"] == "AC" + "0" * 32  # the test account
    assert f"`{name}`" in (FIXTURES / "README.md").read_text(encoding="utf-8")


# voice/ -------------------------------------------------------------------------------------


def test_an_incoming_call_opens_the_call_and_plays_the_main_menu(
    voice_app: Flask, database: Database
) -> None:
    call = CallWalk(voice_app)
    answer = call.start()
    assert answer.mimetype == "text/xml" and "Gather" in answer.verbs
    assert "ร้องเรียนหรือแจ้งเบาะแส กด 1" in answer.said
    row = call_row(database, SID)
    assert row.from_number == CALLER and row.last_node == "main_menu"
    replay(voice_app, database, answer)


def test_a_gather_with_digits_and_one_with_speech_both_choose_complaints(
    voice_app: Flask, database: Database
) -> None:
    keyed = CallWalk(voice_app)
    keyed.start()
    by_keys = keyed.press("1")
    assert "กรุณาเลือกประเภทเรื่อง" in by_keys.said and "Gather" in by_keys.verbs
    replay(voice_app, database, by_keys)

    spoken = CallWalk(voice_app, CallSid="CA" + "b" * 32)
    spoken.start()
    by_speech = spoken.speak("ร้องเรียนค่ะ")
    assert by_speech.said == by_keys.said
    assert by_speech.params["Confidence"] == "0.87"
    replay(voice_app, database, by_speech)
    assert ("ivr_input", "main_menu", "1") in event_kinds(database, SID)


def walk_to_the_recording(app: Flask) -> CallWalk:
    call = CallWalk(app)
    # Complaint, land, postal code 10200 (confirmed), no citizen ID (#): the <Record>.
    answer = call.walk("1", "1", "10200", "1", "#")
    assert "Record" in answer.verbs, answer.body
    return call


def test_the_record_action_files_the_ticket_once(voice_app: Flask, database: Database) -> None:
    call = walk_to_the_recording(voice_app)
    answer = call.post(call.next_url("Record"), "voice/record_action")
    assert "เลขที่เรื่องของท่านคือ" in answer.said
    with UnitOfWork(database) as uow:
        ticket = uow.session.scalars(select(Ticket)).one()
        filed = (ticket.caller_phone, ticket.category.code, ticket.number)
    assert filed[:2] == (CALLER, "land")
    replay(voice_app, database, answer)
    assert count(database, Ticket) == 1
    assert [e for e in event_kinds(database, SID) if e[0] == "ticket_filed"] == [
        ("ticket_filed", "file_ticket", filed[2])
    ]


def test_the_recording_status_callback_keeps_the_recording_once(
    voice_app: Flask, database: Database
) -> None:
    call = walk_to_the_recording(voice_app)
    callback = call.next_url("Record", "recordingStatusCallback")
    call.post(call.next_url("Record"), "voice/record_action")
    answer = call.post(callback, "recording/status_completed")
    assert answer.verbs == []
    with UnitOfWork(database) as uow:
        row = uow.session.scalars(select(Recording)).one()
        phone = uow.session.scalars(select(Ticket.caller_phone)).one()
    fields = payload("recording/status_completed")
    assert (row.sid, row.call_sid, row.duration_s, row.channels, row.source) == (
        fields["RecordingSid"], SID, 14, 1, "RecordVerb")  # fmt: skip
    assert row.media_url == fields["RecordingUrl"]
    replay(voice_app, database, answer)
    assert count(database, Ticket) == 1 and phone == CALLER


@pytest.mark.parametrize(("name", "state"), [("recording/status_absent", "absent"),
                                             ("recording/status_failed", "failed")])  # fmt: skip
def test_a_recording_that_never_came_is_noted_and_never_fetched(
    voice_app: Flask, database: Database, name: str, state: str
) -> None:
    call = walk_to_the_recording(voice_app)
    answer = call.post(call.next_url("Record", "recordingStatusCallback"), name)
    assert answer.verbs == []
    with UnitOfWork(database) as uow:
        row = uow.session.scalars(select(Recording)).one()
    assert (row.state, row.call_sid, row.duration_s) == (state, SID, None)
    assert count(database, Ticket) == 0  # only a completed recording files the complaint
    replay(voice_app, database, answer)


STATUSES = [
    ("voice/status_ringing", "ringing", None),
    ("voice/status_in_progress", "in-progress", None),
    ("voice/status_completed", "completed", "abandoned_ivr"),
    ("voice/status_busy", "busy", "busy"),
    ("voice/status_no_answer", "no-answer", "no_answer"),
]


@pytest.mark.parametrize(("name", "status", "outcome"), STATUSES)
def test_every_status_callback_is_logged_and_a_final_one_closes_the_call(
    voice_app: Flask, database: Database, name: str, status: str, outcome: str | None
) -> None:
    CallWalk(voice_app).start()
    answer = post_fixture(voice_app, f"{BASE_URL}/twilio/status", name)
    assert answer.body.endswith("<Response />") and answer.verbs == []
    call = call_row(database, SID)
    fields = payload(name)
    assert call.twilio_status == status
    assert call.last_sequence == int(fields["SequenceNumber"])
    assert call.outcome == outcome and (call.ended_at is not None) == (outcome is not None)
    if outcome is not None:
        assert call.duration_s == int(fields["CallDuration"])
    replay(voice_app, database, answer)


def test_the_fallback_apologises_and_queues_the_caller_once(
    voice_app: Flask, database: Database
) -> None:
    answer = post_fixture(voice_app, f"{BASE_URL}/twilio/fallback", "voice/fallback")
    assert answer.verbs == ["Say", "Enqueue"] and "ขออภัยค่ะ" in answer.said
    assert count(database, QueueEntry) == 1
    replay(voice_app, database, answer)


# queue/ -------------------------------------------------------------------------------------


def enqueued(app: Flask) -> CallWalk:
    call = CallWalk(app)
    answer = call.walk("0")
    assert "Enqueue" in answer.verbs, answer.body
    return call


def test_the_wait_url_reads_the_callers_place_in_the_queue(
    voice_app: Flask, database: Database
) -> None:
    call = enqueued(voice_app)
    answer = call.post(call.next_url("Enqueue", "waitUrl"), "queue/wait", QueuePosition="3")
    assert "Enqueue" not in answer.verbs and "ลำดับที่ 3" in answer.said
    replay(voice_app, database, answer)


def test_a_bridged_queue_action_logs_the_connection_once(
    voice_app: Flask, database: Database
) -> None:
    call = enqueued(voice_app)
    answer = call.post(call.next_url("Enqueue"), "queue/action_bridged")
    assert answer.status == 200
    kinds = [e[0] for e in event_kinds(database, SID)]
    assert kinds.count("connect") == 1 and ("complete", "to_agent", "agent") in event_kinds(
        database, SID
    )
    replay(voice_app, database, answer)
    post_fixture(voice_app, f"{BASE_URL}/twilio/status", "voice/status_completed")
    assert call_row(database, SID).outcome == "answered"


def test_a_caller_who_hangs_up_in_the_queue_is_an_abandon(
    voice_app: Flask, database: Database
) -> None:
    call = enqueued(voice_app)
    answer = call.post(call.next_url("Enqueue"), "queue/action_hangup")
    assert answer.verbs == []
    assert ("abandon", "to_agent", None) in event_kinds(database, SID)
    replay(voice_app, database, answer)
    post_fixture(voice_app, f"{BASE_URL}/twilio/status", "voice/status_completed")
    assert call_row(database, SID).outcome == "abandoned_queue"


def test_a_full_queue_offers_what_still_works(voice_app: Flask, database: Database) -> None:
    call = enqueued(voice_app)
    answer = call.post(call.next_url("Enqueue"), "queue/action_queue_full")
    assert "Gather" in answer.verbs and "ฝากเรื่องด้วยเสียง กด 1" in answer.said
    assert ("queue_error", "to_agent", "queue-full") in event_kinds(database, SID)
    replay(voice_app, database, answer)


@pytest.mark.parametrize("result", ["queue-full", "system-error"])
def test_a_full_queue_in_office_hours_does_not_say_the_centre_is_closed(
    voice_app: Flask, result: str
) -> None:
    call = enqueued(voice_app)
    answer = call.post(call.next_url("Enqueue"), "queue/action_queue_full", QueueResult=result)
    assert "นอกเวลาทำการ" not in answer.said, answer.said
    assert "เจ้าหน้าที่ไม่ว่างทุกสาย" in answer.said


def test_the_hold_is_not_silence_and_gives_the_estimated_wait(voice_app: Flask) -> None:
    """Was: "ขณะนี้ท่านอยู่ในลำดับที่ 1", then 20 s of silence, repeated, with no way out."""
    call = enqueued(voice_app)
    answer = call.post(call.next_url("Enqueue", "waitUrl"), "queue/wait", AvgQueueTime="150")
    assert answer.verbs == ["Gather"], answer.body  # the message is said inside the Gather
    assert "เวลารอโดยประมาณ 3 นาที" in answer.said and "ไม่ต้องการรอ กด 1" in answer.said
    gather = next(answer.elements("Gather"))
    assert int(gather.get("timeout", "0")) <= 10 and gather.get("numDigits") == "1"


def test_a_key_on_hold_leaves_the_queue_for_the_offer(voice_app: Flask, database: Database) -> None:
    call = enqueued(voice_app)
    enqueue_action = call.next_url("Enqueue")
    call.post(call.next_url("Enqueue", "waitUrl"), "queue/wait")
    other = call.post(call.next_url("Gather"), "queue/wait", Digits="5")
    assert "Leave" not in other.verbs and "ลำดับที่" in other.said
    left = call.post(call.next_url("Gather"), "queue/wait", Digits="1")
    assert left.verbs == ["Leave"]
    offer = call.post(enqueue_action, "queue/action_queue_full", QueueResult="leave")
    assert "ฝากเรื่องด้วยเสียง กด 1" in offer.said and "นอกเวลาทำการ" not in offer.said
    assert ("queue_error", "to_agent", "leave") in event_kinds(database, SID)


def test_the_longest_wait_takes_the_caller_out_of_the_queue(voice_app: Flask) -> None:
    call = enqueued(voice_app)
    wait_url = call.next_url("Enqueue", "waitUrl")
    assert "Leave" not in call.post(wait_url, "queue/wait", QueueTime="599").verbs
    assert call.post(wait_url, "queue/wait", QueueTime="600").verbs == ["Leave"]


# sms/ ---------------------------------------------------------------------------------------


def sms(app: Flask, path: str, name: str, **changes: str) -> Answer:
    answer = post(app, f"{BASE_URL}/twilio/{path}", payload(name, **changes), check=False)
    assert answer.status == 200 and answer.mimetype == "text/xml"
    assert set(answer.verbs) <= {"Message"}, answer.body
    return answer


def messages(answer: Answer) -> list[str]:
    return [e.text or "" for e in answer.elements("Message")]


@pytest.fixture
def sent_sms(database: Database) -> str:
    sid = payload("sms/status_delivered")["MessageSid"]
    with UnitOfWork(database) as uow:
        sent = SmsMessage(to_number=CALLER, kind="ticket-number", body="เลขที่เรื่อง",
                          status="sending", dedupe_key="fixture", twilio_sid=sid)  # fmt: skip
        uow.session.add(sent)
        uow.commit()
    return sid


def sms_status(database: Database, sid: str) -> str:
    with UnitOfWork(database) as uow:
        status: str = uow.session.scalars(
            select(SmsMessage.status).where(SmsMessage.twilio_sid == sid)
        ).one()
    return status


@pytest.mark.parametrize(("name", "status"), [("sms/status_sent", "sent"),
                                              ("sms/status_delivered", "delivered"),
                                              ("sms/status_undelivered", "failed"),
                                              ("sms/status_failed", "failed")])  # fmt: skip
def test_sms_delivery_reports_move_the_message_on_once(
    voice_app: Flask, database: Database, sent_sms: str, name: str, status: str
) -> None:
    answer = sms(voice_app, "sms-status", name)
    assert answer.verbs == []
    assert sms_status(database, sent_sms) == status
    replay(voice_app, database, answer, check=False)
    assert sms_status(database, sent_sms) == status


def test_a_late_sent_report_does_not_undo_a_delivery(
    voice_app: Flask, database: Database, sent_sms: str
) -> None:
    sms(voice_app, "sms-status", "sms/status_delivered")
    sms(voice_app, "sms-status", "sms/status_sent")
    assert sms_status(database, sent_sms) == "delivered"


def opted_out(database: Database) -> list[str]:
    with UnitOfWork(database) as uow:
        return list(uow.session.scalars(select(SmsOptOut.phone)))


@pytest.mark.parametrize("name", ["sms/inbound_stop", "sms/inbound_stop_thai"])
def test_stop_is_an_opt_out_said_in_thai_once(
    voice_app: Flask, database: Database, name: str
) -> None:
    answer = sms(voice_app, "sms", name)
    assert messages(answer) == [REPLIES["stop"]]
    assert opted_out(database) == [CALLER]
    replay(voice_app, database, answer, check=False)


def test_start_opts_back_in(voice_app: Flask, database: Database) -> None:
    sms(voice_app, "sms", "sms/inbound_stop")
    answer = sms(voice_app, "sms", "sms/inbound_start")
    assert messages(answer) == [REPLIES["start"]] and opted_out(database) == []
    replay(voice_app, database, answer, check=False)


def test_any_other_text_gets_no_reply_and_changes_nothing(
    voice_app: Flask, database: Database
) -> None:
    answer = sms(voice_app, "sms", "sms/inbound_other")
    assert messages(answer) == [] and opted_out(database) == []
    assert count(database, CallEvent) == 0
    replay(voice_app, database, answer, check=False)


# agent/ is driven by tests/webhooks/test_agent_webhooks.py; the whole leg once more here, with
# every answer checked and replayed.


def test_the_agent_leg_replayed_step_by_step_changes_nothing(
    voice_app: Flask, database: Database, make_phone: Callable[..., object]
) -> None:
    from tests.webhooks.test_agent_webhooks import agent_id, put_back_in_the_queue

    uid = agent_id(database)
    caller_sid = put_back_in_the_queue(database, make_phone)
    leg = payload("agent/client_incoming")["CallSid"]
    steps = [
        ("agent", "agent/client_incoming", {"From": f"client:agent-{uid}",
                                            "Caller": f"client:agent-{uid}"}),
        (f"agent/bridge?agent={uid}", "agent/bridge", {"CallSid": caller_sid}),
        (f"agent/done?agent={uid}", "agent/dial_action", {"DialCallSid": caller_sid}),
        (f"agent/recording?agent={uid}", "agent/recording", {}),
    ]  # fmt: skip
    for path, name, changes in steps:
        answer = post_fixture(voice_app, f"{BASE_URL}/twilio/{path}", name, **changes)
        replay(voice_app, database, answer)
    with UnitOfWork(database) as uow:
        row = uow.session.scalars(select(Recording)).one()
        entry = uow.session.scalars(select(QueueEntry)).one()
    assert row.call_sid == caller_sid and entry.agent_call_sid == leg
