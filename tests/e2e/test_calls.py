"""Whole calls, played by the signed phone simulator against the app on a real database."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline.calls.models import Call, CallEvent, call_tickets
from hotline.demo.phone import PhoneSimulator, QueueBehaviour
from hotline.runtime import runtime
from hotline.twilio.actions import ticket_digits
from recordings.models import Recording
from tests.factories import make_ticket
from tests.voice import NIGHT, call_row, count, event_kinds
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import SmsMessage, Ticket

CALLER = "+66812345678"
COMPLAINT = ["1", "1", "50200", "1", "1101700207030", "1", "record:12", "1", "5"]


def the_ticket(db: Database) -> Ticket:
    with UnitOfWork(db) as uow:
        return uow.session.scalars(select(Ticket).options(joinedload(Ticket.category))).one()


def test_a_complaint_with_every_field(database: Database, phone: PhoneSimulator) -> None:
    transcript = phone.call(COMPLAINT)

    ticket = the_ticket(database)
    assert ticket.channel == "phone" and ticket.status == "received"
    assert ticket.category.code == "land"
    assert (ticket.province_code, ticket.district_code, ticket.postal_code) == (
        "50",
        "5001",
        "50200",
    )
    assert ticket.citizen_id == "1101700207030"
    assert ticket.caller_phone == CALLER
    assert ticket.external_ref == f"ivr:{transcript.call_sid}"
    # The number is read back digit by digit, twice.
    assert transcript.said().count(ticket_digits(ticket.number)) == 2
    with UnitOfWork(database) as uow:
        recording = uow.session.scalars(select(Recording)).one()
        assert recording.ticket_id == ticket.id and recording.state == "pending"
        assert recording.duration_s == 12
        sms = uow.session.scalars(select(SmsMessage)).one()
        assert sms.to_number == CALLER and ticket.number in sms.body and sms.status == "pending"
        linked = uow.session.execute(select(call_tickets)).all()
        assert len(linked) == 1
    call = call_row(database, transcript.call_sid)
    assert call.outcome == "self_service" and call.ended_at is not None
    kinds = [k for k, _, _ in event_kinds(database, transcript.call_sid)]
    for expected in ("ivr_enter", "ivr_input", "ticket_filed", "sms_requested", "survey_answer"):
        assert expected in kinds
    assert kinds[-1] == "complete"
    # The citizen ID never reaches the call log.
    assert all(
        "1101700207030" not in (value or "")
        for _, _, value in event_kinds(database, transcript.call_sid)
    )


def test_status_of_a_ticket_from_the_same_number(database: Database, phone: PhoneSimulator) -> None:
    phone.call(COMPLAINT)
    ticket = the_ticket(database)
    transcript = phone.call(["2", f"{ticket.number}#", "3", "hangup"])
    assert "ศูนย์ดำรงธรรมได้รับเรื่องของท่านแล้ว" in transcript.said()
    assert "พุทธศักราช 2569" in transcript.said()
    assert ("status_heard", "lookup_status", ticket.number) in event_kinds(
        database, transcript.call_sid
    )


def test_status_from_another_number_needs_the_citizen_id(
    database: Database, phone: PhoneSimulator, make_phone: Callable[..., PhoneSimulator]
) -> None:
    phone.call(COMPLAINT)
    ticket = the_ticket(database)
    stranger = make_phone(caller="+66899999999")

    refused = stranger.call(["2", f"{ticket.number}#", "3101700207036", "hangup"])
    assert "ได้รับเรื่องของท่านแล้ว" not in refused.said()
    assert "ไม่พบข้อมูลเรื่องร้องเรียนตามที่ท่านระบุ" in refused.said()
    assert not [e for e in event_kinds(database, refused.call_sid) if e[0] == "status_heard"]

    allowed = stranger.call(["2", f"{ticket.number}#", "1101700207030", "hangup"])
    assert "ได้รับเรื่องของท่านแล้ว" in allowed.said()


def test_nobody_hears_a_ticket_without_citizen_id_from_another_number(
    database: Database, make_phone: Callable[..., PhoneSimulator]
) -> None:
    ticket = make_ticket(database, citizen_id=None, channel="phone", caller_phone="0811111111")
    stranger = make_phone(caller="+66822222222")
    transcript = stranger.call(["2", f"{ticket.number}#", "1101700207030", "hangup"])
    assert "ได้รับเรื่องของท่านแล้ว" not in transcript.said()


def test_a_mistyped_ticket_number_is_refused_before_any_lookup(phone: PhoneSimulator) -> None:
    transcript = phone.call(["2", "6900012347#", "hangup"])
    assert "เลขที่เรื่องไม่ถูกต้อง" in transcript.said()


def test_the_agent_path_then_the_survey(database: Database, phone: PhoneSimulator) -> None:
    transcript = phone.call(["0", "4"], queue=QueueBehaviour(answered=True, wait_s=30))
    assert "ลำดับที่ 1" in transcript.said()
    call = call_row(database, transcript.call_sid)
    assert call.outcome == "answered" and call.queue_wait_s == 30
    kinds = [k for k, _, _ in event_kinds(database, transcript.call_sid)]
    assert kinds.index("enqueue") < kinds.index("connect") < kinds.index("survey_answer")


def test_giving_up_in_the_queue_is_an_abandon(database: Database, phone: PhoneSimulator) -> None:
    transcript = phone.call(["0"], queue=QueueBehaviour(answered=False, wait_s=45))
    call = call_row(database, transcript.call_sid)
    assert call.outcome == "abandoned_queue" and call.queue_wait_s == 45
    assert ("abandon", "to_agent", None) in event_kinds(database, transcript.call_sid)


@pytest.mark.parametrize(
    "script", [["9", "9"], ["", ""], ["9", ""]], ids=["wrong", "silent", "mixed"]
)
def test_two_failures_at_the_main_menu_reach_an_agent(
    database: Database, phone: PhoneSimulator, script: list[str]
) -> None:
    transcript = phone.call([*script, "hangup"], queue=QueueBehaviour(answered=False))
    assert "ระบบกำลังโอนสายไปยังเจ้าหน้าที่" in transcript.said()
    assert "enqueue" in [k for k, _, _ in event_kinds(database, transcript.call_sid)]


def test_after_hours_the_caller_can_still_leave_a_complaint(
    database: Database, night_phone: PhoneSimulator
) -> None:
    transcript = night_phone.call(["1", "1", "50200", "1", "#", "record:8", "2", "5"])
    assert "นอกเวลาทำการ" in transcript.said()
    assert count(database, Ticket) == 1


def test_after_hours_failures_never_loop_for_ever(night_phone: PhoneSimulator) -> None:
    transcript = night_phone.call([""] * 40)
    assert transcript.ended_by == "hangup"
    assert len(transcript.exchanges) < 20


def test_after_hours_a_person_is_offered_with_the_hours_and_a_way_back(
    database: Database, night_phone: PhoneSimulator
) -> None:
    """Was: agents_closed offered only "1", gave no hours, and went round itself until six
    failures hung up."""
    phone = night_phone
    back = phone.call(["0", "9", "hangup"])
    said = back.said()
    assert "เจ้าหน้าที่รับสายวันจันทร์ถึงวันศุกร์ เวลาแปดโมงครึ่งถึงสี่โมงครึ่งเย็น" in said
    assert said.count("ขณะนี้อยู่นอกเวลาทำการ") == 3  # the menu, the closed message, the menu
    assert ("ivr_enter", "after_hours_menu", None) in event_kinds(database, back.call_sid)[-2:]
    silent = phone.call(["0", "", ""])
    entered = [n for k, n, _ in event_kinds(database, silent.call_sid) if k == "ivr_enter"]
    assert entered[-2:] == ["agents_closed", "goodbye"] and silent.ended_by == "hangup"
    voice = phone.call(["0", "1", "record:8", "hangup"])
    assert count(database, Ticket) == 1 and "เลขที่เรื่องของท่านคือ" in voice.said()


# Hanging up anywhere --------------------------------------------------------------------------

HANGUP_POINTS = {
    "greeting menu": ([], "main_menu"),
    "category": (["1"], "complaint_category"),
    "postal code": (["1", "1"], "postal_code"),
    "postal confirm": (["1", "1", "50200"], "postal_code"),
    "citizen id": (["1", "1", "50200", "1"], "citizen_id"),
    "recording": (["1", "1", "50200", "1", "#"], "record_complaint"),
    "status number": (["2"], "status_number"),
    "info menu": (["3"], "info_menu"),
}


@pytest.mark.parametrize(("prefix", "node"), HANGUP_POINTS.values(), ids=HANGUP_POINTS.keys())
def test_a_hang_up_leaves_the_node_where_it_happened(
    database: Database, phone: PhoneSimulator, prefix: list[str], node: str
) -> None:
    transcript = phone.call([*prefix, "hangup"])
    call = call_row(database, transcript.call_sid)
    assert call.outcome == "abandoned_ivr" and call.last_node == node
    assert event_kinds(database, transcript.call_sid)[-1] == ("hangup", node, "abandoned_ivr")
    assert count(database, Ticket) == 0


def test_hanging_up_right_after_speaking_still_files_the_ticket(
    database: Database, phone: PhoneSimulator
) -> None:
    transcript = phone.call(["1", "4", "10200", "1", "#", "record-hangup"])
    ticket = the_ticket(database)
    assert ticket.category.code == "drugs" and ticket.province_code == "10"
    with UnitOfWork(database) as uow:
        recording = uow.session.scalars(select(Recording)).one()
        assert recording.ticket_id == ticket.id
    assert call_row(database, transcript.call_sid).outcome == "self_service"


# Replays --------------------------------------------------------------------------------------


def test_every_request_replayed_changes_nothing_twice(
    database: Database, phone: PhoneSimulator, voice_app: Flask
) -> None:
    transcript = phone.call(COMPLAINT)
    rows_before = {
        model.__name__: count(database, model)
        for model in (Ticket, CallEvent, SmsMessage, Recording, Call)
    }
    client = voice_app.test_client()
    for exchange in transcript.exchanges:
        path = exchange.url.removeprefix("https://hotline.example.go.th")
        again = client.post(
            path, data=exchange.params, headers=phone.sign(exchange.url, exchange.params)
        )
        assert again.status_code == 200
        # The very same bytes: sealing is deterministic (#17), sealed states included.
        assert again.get_data(as_text=True) == exchange.body, exchange.url
    rows_after = {
        model.__name__: count(database, model)
        for model in (Ticket, CallEvent, SmsMessage, Recording, Call)
    }
    assert rows_after == rows_before


def test_a_public_holiday_is_after_hours_for_a_provincial_center(
    night_app: Flask, night_phone: PhoneSimulator
) -> None:
    from datetime import UTC, datetime

    # Thursday 10 December 2026, 10:00 in Bangkok: Constitution Day, seeded by `db upgrade`.
    runtime(night_app).clock = lambda: datetime(2026, 12, 10, 3, 0, tzinfo=UTC)
    transcript = night_phone.call(["hangup"])
    assert "นอกเวลาทำการ" in transcript.said()


def test_the_national_line_is_answered_at_night_and_on_holidays(
    voice_app: Flask, phone: PhoneSimulator
) -> None:
    """Was: outside 08:30-16:30 on weekdays nobody could reach a person on 1567."""
    from datetime import UTC, datetime

    for now in (NIGHT, datetime(2026, 12, 10, 3, 0, tzinfo=UTC)):
        runtime(voice_app).clock = lambda now=now: now
        transcript = phone.call(["0"], queue=QueueBehaviour(answered=True, wait_s=5))
        assert "นอกเวลาทำการ" not in transcript.said()
        assert "โอนสายไปยังเจ้าหน้าที่" in transcript.said()
