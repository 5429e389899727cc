"""Citizen SMS: which changes write to the outbox, sending through the Twilio stand-in,
delivery callbacks, and STOP/START replies."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from twilio.request_validator import RequestValidator

from config.redis_keys import SMS_REPLY_OUTBOX
from hotline.background.notifications import record_kept_replies, send_pending
from hotline.background.worker import Housekeeper
from hotline.runtime import runtime
from tests.factories import make_agency, make_ticket, make_user
from tests.twilio_standin import TwilioStandIn
from tests.voice import AUTH_TOKEN, BASE_URL, REDIS_URL
from tests.webhooks.payloads import payload
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import SmsMessage, SmsOptOut
from ticketing.notify import sms_body, ucs2_segments
from ticketing.services import change_status, refer
from ticketing.statuses import TicketStatus

ACCOUNT = "AC" + "0" * 32
CITIZEN = "+66812345678"


@pytest.fixture
def sms_app(make_app: Callable[..., Flask], standin: TwilioStandIn, tmp_path: Path) -> Flask:
    return make_app(twilio_api_base_url=standin.base_url, twilio_sms_from="DAMRONGTHAM")


def outbox(db: Database) -> list[SmsMessage]:
    with UnitOfWork(db) as uow:
        return list(uow.session.scalars(select(SmsMessage).order_by(SmsMessage.id)))


def signed(app: Flask, path: str, params: dict[str, str]) -> str:
    signature = RequestValidator(AUTH_TOKEN).compute_signature(BASE_URL + path, params)
    response = app.test_client().post(path, data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_changes_that_matter_write_one_message_each(database: Database) -> None:
    agent = make_user(database, "agent")
    agency = make_agency(database)
    ticket = make_ticket(database, channel="walk_in", caller_phone="0812345678")
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)  # not told
    refer(UnitOfWork(database), ticket.id, [agency.id], agent)
    change_status(UnitOfWork(database), ticket.id, "resolved", agent)
    change_status(UnitOfWork(database), ticket.id, "closed", agent)
    kinds = [m.kind for m in outbox(database)]
    assert kinds == ["status_received", "status_referred", "status_resolved", "status_closed"]
    assert all(m.to_number == CITIZEN and ticket.number in m.body for m in outbox(database))


def test_no_message_without_a_number_for_training_or_unasked_on_the_phone(
    database: Database,
) -> None:
    make_ticket(database, caller_phone=None)
    make_ticket(database, is_training=True)
    make_ticket(database, channel="phone", description="")  # the IVR asks the caller instead
    assert outbox(database) == []


@pytest.mark.parametrize("status", sorted(TicketStatus))
def test_every_status_text_fits_two_sms_segments(status: TicketStatus) -> None:
    assert ucs2_segments(sms_body("69" + "9" * 8, status)) <= 2


def test_segments_count_ucs2_units() -> None:
    assert ucs2_segments("ก" * 70) == 1 and ucs2_segments("ก" * 71) == 2
    assert ucs2_segments("ก" * 134) == 2 and ucs2_segments("ก" * 135) == 3


def test_pending_messages_are_sent_once(
    sms_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    make_ticket(database, channel="walk_in")
    rt = runtime(sms_app)
    assert send_pending(rt) == 1
    assert send_pending(rt) == 0  # nothing twice
    [message] = outbox(database)
    assert message.status == "sent" and message.twilio_sid == standin.messages[0]["Sid"]
    sent = standin.messages[0]
    assert sent["To"] == CITIZEN and sent["From"] == "DAMRONGTHAM" and sent["Body"] == message.body
    assert sent["StatusCallback"] == f"{BASE_URL}/twilio/sms-status"
    assert all(ok for _, _, ok in standin.requests)


def test_delivery_reports_move_forward_only(
    sms_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    make_ticket(database, channel="walk_in")
    send_pending(runtime(sms_app))
    sid = outbox(database)[0].twilio_sid or ""
    for status in ("delivered", "sent", "delivered"):
        signed(sms_app, "/twilio/sms-status", {"MessageSid": sid, "MessageStatus": status})
    assert outbox(database)[0].status == "delivered"


def test_stop_is_honoured_and_start_undoes_it(
    sms_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    reply = signed(sms_app, "/twilio/sms", {"From": CITIZEN, "To": "1567", "Body": " STOP "})
    assert "ยกเลิกการรับข้อความแล้ว" in reply
    make_ticket(database, channel="walk_in")
    assert send_pending(runtime(sms_app)) == 0
    assert outbox(database)[0].status == "opted_out" and standin.messages == []
    reply = signed(sms_app, "/twilio/sms", {"From": CITIZEN, "To": "1567", "Body": "start"})
    assert "อีกครั้ง" in reply
    make_ticket(database, channel="letter")
    assert send_pending(runtime(sms_app)) == 1


def test_twilios_own_opt_out_is_recorded(
    sms_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    standin.unsubscribed.add(CITIZEN)
    make_ticket(database, channel="walk_in")
    assert send_pending(runtime(sms_app)) == 0
    assert outbox(database)[0].status == "opted_out"


def test_without_a_sender_messages_wait(
    make_app: Callable[..., Flask], database: Database, standin: TwilioStandIn
) -> None:
    app = make_app(twilio_api_base_url=standin.base_url)
    make_ticket(database, channel="walk_in")
    assert send_pending(runtime(app)) == 0
    assert outbox(database)[0].status == "pending" and standin.messages == []


def opted_out(db: Database) -> list[str]:
    with UnitOfWork(db) as uow:
        return list(uow.session.scalars(select(SmsOptOut.phone)))


def test_a_stop_during_a_database_outage_is_recorded_once_it_is_back(
    make_app: Callable[..., Flask], database: Database, redis_client: redis.Redis
) -> None:
    """ISSUE #18 item 14: the reply was empty and the opt-out lost."""
    down = make_app(redis_url=REDIS_URL, database_url="postgresql://nobody@127.0.0.1:1/none")
    stop = payload("sms/inbound_stop")
    reply = signed(down, "/twilio/sms", stop)
    assert "ยกเลิกการรับข้อความแล้ว" in reply  # told at once
    assert redis_client.llen(SMS_REPLY_OUTBOX) == 1
    # Back up, while the STOP still waits: a START goes behind it, so the last word wins.
    up = make_app(redis_url=REDIS_URL)
    assert "อีกครั้ง" in signed(up, "/twilio/sms", {**stop, "Body": "START"})
    assert opted_out(database) == []  # not yet: the STOP waits in line first
    assert "ยกเลิก" in signed(up, "/twilio/sms", {**stop, "Body": "หยุด"})

    with up.app_context():
        Housekeeper(up).round()
    assert redis_client.llen(SMS_REPLY_OUTBOX) == 0
    assert opted_out(database) == [stop["From"]]
    with up.app_context():
        Housekeeper(up).round()  # nothing twice
    assert opted_out(database) == [stop["From"]]


def test_a_kept_reply_waits_while_the_database_is_still_down(
    make_app: Callable[..., Flask], redis_client: redis.Redis
) -> None:
    down = make_app(redis_url=REDIS_URL, database_url="postgresql://nobody@127.0.0.1:1/none")
    signed(down, "/twilio/sms", payload("sms/inbound_stop"))
    with pytest.raises(SQLAlchemyError):
        record_kept_replies(runtime(down))
    assert redis_client.llen(SMS_REPLY_OUTBOX) == 1
