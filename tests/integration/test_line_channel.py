"""The LINE channel against the local LINE stand-in, on SQLite and PostgreSQL: the webhook's
signature, redeliveries, the guided complaint by chat, tracking by chat and media kept by the
recordings store."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from hotline.background.jobs import InlineJobs
from hotline.channels.line_models import (
    LineAttachment,
    LineConversation,
    LineEvent,
    LineMessage,
    LinePush,
    LineTicket,
)
from hotline.channels.line_progress import push_progress
from hotline.runtime import runtime
from tests.factories import make_ticket, make_user
from tests.line_standin import JPEG, LineStandIn, Media, sign
from tests.voice import REDIS_URL
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import SmsMessage, Ticket
from ticketing.notify import ucs2_segments
from ticketing.numbers import parse_ticket_number
from ticketing.services import add_note, change_status

SECRET = "line-channel-secret-for-tests"
TOKEN = "line-channel-access-token-for-tests"
USER = "U" + "4af4980629" * 3 + "12"
HOTLINE = str(Path(sys.executable).parent / "hotline")
_ids = itertools.count(1)


@pytest.fixture
def line() -> Iterator[LineStandIn]:
    server = LineStandIn(TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def line_app(make_app: Callable[..., Flask], line: LineStandIn) -> Flask:
    return make_app(line_channel_secret=SECRET, line_channel_access_token=TOKEN,
                    line_api_base_url=line.base_url)  # fmt: skip


def event(kind: str = "message", user: str = USER, **fields: Any) -> dict[str, Any]:
    n = next(_ids)
    base = {"type": kind, "mode": "active", "timestamp": 1765170000000 + n,
            "source": {"type": "user", "userId": user},
            "webhookEventId": f"01JLINE{n:019d}", "replyToken": f"reply-token-{n}",
            "deliveryContext": {"isRedelivery": False}}  # fmt: skip
    return {**base, **fields}


def text(words: str, user: str = USER) -> dict[str, Any]:
    return event(message={"type": "text", "id": f"{next(_ids):018d}", "text": words,
                          "quoteToken": "q"}, user=user)  # fmt: skip


def postback(data: str, user: str = USER) -> dict[str, Any]:
    return event("postback", postback={"data": data}, user=user)


def image(message_id: str) -> dict[str, Any]:
    return event(message={"type": "image", "id": message_id, "quoteToken": "q",
                          "contentProvider": {"type": "line"}})  # fmt: skip


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps({"destination": "U" + "0" * 32, "events": list(events)},
                      ensure_ascii=False).encode()  # fmt: skip


def post(app: Flask, raw: bytes, signature: str | None = "sign") -> Any:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers["X-Line-Signature"] = sign(SECRET, raw)
    elif signature is not None:
        headers["X-Line-Signature"] = signature
    response = app.test_client().post("/line/webhook", data=raw, headers=headers)
    jobs = runtime(app).jobs
    if isinstance(jobs, InlineJobs):
        jobs.join()
    return response


def send(app: Flask, *events: dict[str, Any]) -> None:
    assert post(app, body_of(*events)).status_code == 200


def count(db: Database, model: Any) -> int:
    with UnitOfWork(db) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_without_line_settings_the_webhook_does_not_exist(make_app: Callable[..., Flask]) -> None:
    app = make_app()
    raw = body_of(text("สวัสดี"))
    assert post(app, raw).status_code == 404


BAD_SIGNATURES = [(None, 401), ("", 401), ("AAAA", 403), (sign("another-secret", b"x"), 403)]


@pytest.mark.parametrize(("signature", "status"), BAD_SIGNATURES)
def test_an_unsigned_or_wrongly_signed_post_writes_nothing(
    line_app: Flask, line: LineStandIn, database: Database, signature: str | None, status: int
) -> None:
    response = post(line_app, body_of(text("ร้องเรียน")), signature)
    assert response.status_code == status
    assert count(database, LineEvent) == 0 and count(database, LineConversation) == 0
    assert line.replies == [] and line.pushes == []


def test_a_signature_over_another_body_is_refused(line_app: Flask, database: Database) -> None:
    raw = body_of(text("ร้องเรียน"))
    other = body_of(text("ร้องเรียน 😀"))
    assert post(line_app, other, sign(SECRET, raw)).status_code == 403
    assert count(database, LineEvent) == 0


def test_a_signed_text_message_gets_200_and_a_reply_through_the_stand_in(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    raw = body_of(text("สวัสดีค่ะ อยากร้องเรียน 🙏"))  # Thai and emoji in the signed bytes
    assert post(line_app, raw).status_code == 200
    replies = line.wait_for("replies")
    assert len(replies) == 1 and replies[0]["replyToken"].startswith("reply-token-")
    message = replies[0]["messages"][0]
    assert "ประเภทเรื่อง" in message["text"]
    labels = [i["action"]["label"] for i in message["quickReply"]["items"]]
    assert "ปัญหาที่ดิน" in labels and all(len(label) <= 20 for label in labels)
    assert all(ok for _, _, ok in line.requests)  # the channel access token was sent


def test_a_verification_request_without_events_gets_200(line_app: Flask) -> None:
    assert post(line_app, body_of()).status_code == 200


def test_a_redelivered_event_changes_nothing_twice(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    first = text("ร้องเรียน")
    send(line_app, first)
    again = {**first, "deliveryContext": {"isRedelivery": True}}
    send(line_app, again)
    send(line_app, again)
    assert count(database, LineEvent) == 1
    assert count(database, LineMessage) == 2  # the citizen's one message and one answer
    assert len(line.wait_for("replies")) == 1


def file_a_complaint(app: Flask, line: LineStandIn, postal: str = "50200") -> str:
    send(app, text("ร้องเรียน"))
    send(app, postback("category=land"))
    send(app, text(postal))
    send(app, text("มีการบุกรุกที่ดินสาธารณะริมคลอง"))
    send(app, postback("submit"))
    return line.texts()[-1]


def test_a_guided_complaint_is_filed_as_a_line_ticket_and_its_number_replied(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    answer = file_a_complaint(line_app, line)
    with UnitOfWork(database) as uow:
        ticket = uow.session.scalars(select(Ticket)).one()
        assert ticket.channel == "line"
        assert (ticket.postal_code, ticket.district_code, ticket.province_code) == (
            "50200", "5001", "50")  # fmt: skip
        assert "บุกรุกที่ดินสาธารณะ" in ticket.description
        assert uow.session.scalar(select(func.count()).select_from(LineTicket)) == 1
        timeline = uow.session.scalars(
            select(LineMessage).where(LineMessage.ticket_id == ticket.id)
        ).all()
        conversation = uow.session.scalars(select(LineConversation)).one()
        assert conversation.state == "idle"
    assert parse_ticket_number(ticket.number).display in answer
    assert len(timeline) == 10  # five in, five out: the chat is the ticket's timeline


def test_a_postal_code_of_several_districts_asks_which(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    send(line_app, text("ร้องเรียน"))
    send(line_app, postback("category=nuisance"))
    send(line_app, text("10240"))  # Bang Kapi and Saphan Sung (Bangkok)
    buttons = line.replies[-1]["messages"][0]["quickReply"]["items"]
    choices = [b["action"]["data"] for b in buttons]
    assert len(choices) >= 2 and all(c.startswith("district=") for c in choices)
    send(line_app, postback("district=9999"))  # not one of them: asked again
    assert "เลือกอำเภอ" in line.texts()[-1]
    send(line_app, postback(choices[-1]))
    assert "พิมพ์เล่าเรื่อง" in line.texts()[-1]


def test_a_wrong_postal_code_or_a_location_asks_again(line_app: Flask, line: LineStandIn) -> None:
    send(line_app, text("ร้องเรียน"))
    send(line_app, postback("category=land"))
    send(line_app, text("00000"))
    assert "ไม่พบรหัสไปรษณีย์" in line.texts()[-1]
    send(line_app, event(message={"type": "location", "id": "77", "latitude": 18.79,
                                  "longitude": 98.98, "address": "เชียงใหม่"}))  # fmt: skip
    assert "รหัสไปรษณีย์" in line.texts()[-1] and "ตำแหน่ง" in line.texts()[-1]


def test_tracking_by_chat_shows_only_this_citizens_tickets(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    file_a_complaint(line_app, line)
    send(line_app, text("ติดตามเรื่อง"))
    with UnitOfWork(database) as uow:
        number = uow.session.scalars(select(Ticket.number)).one()
    mine = line.texts()[-1]
    assert parse_ticket_number(number).display in mine and "ได้รับเรื่อง" in mine
    send(line_app, text("ติดตามเรื่อง", user="U" + "9" * 32))
    assert number not in line.texts()[-1].replace("-", "")
    assert "ยังไม่พบเรื่อง" in line.texts()[-1]


def test_a_photo_is_fetched_by_a_job_into_the_store_with_its_sha256(
    line_app: Flask, line: LineStandIn, database: Database, tmp_path: Path
) -> None:
    line.content["580001"] = Media(JPEG, "image/jpeg")
    send(line_app, text("ร้องเรียน"))
    send(line_app, postback("category=land"))
    send(line_app, text("50200"))
    send(line_app, text("ถนนพังเป็นหลุมใหญ่"))
    send(line_app, image("580001"))
    send(line_app, postback("submit"))
    with UnitOfWork(database) as uow:
        media = uow.session.scalars(select(LineAttachment)).one()
        ticket = uow.session.scalars(select(Ticket)).one()
    assert media.state == "stored" and media.ticket_id == ticket.id
    assert media.sha256 == hashlib.sha256(JPEG).hexdigest() and media.size_bytes == len(JPEG)
    assert media.storage_key is not None and media.storage_key.startswith("LN/")
    stored = (tmp_path / "recordings" / media.storage_key).read_bytes()
    assert stored == JPEG


def test_content_of_an_unexpected_type_is_refused(
    line_app: Flask, line: LineStandIn, database: Database, tmp_path: Path
) -> None:
    line.content["580002"] = Media(b"<html>not a photo</html>", "text/html")
    send(line_app, text("ร้องเรียน"))
    send(line_app, postback("category=land"))
    send(line_app, text("50200"))
    send(line_app, image("580002"))
    with UnitOfWork(database) as uow:
        media = uow.session.scalars(select(LineAttachment)).one()
    assert media.state == "failed" and media.storage_key is None
    assert "content type" in (media.last_error or "")


def test_a_spent_reply_token_falls_back_to_a_push(line_app: Flask, line: LineStandIn) -> None:
    first = text("ร้องเรียน")
    line.spent_tokens.add(first["replyToken"])
    send(line_app, first)
    pushes = line.wait_for("pushes")
    assert len(pushes) == 1 and pushes[0]["to"] == USER and line.replies == []


def test_no_log_line_carries_the_line_user_id(
    line_app: Flask, line: LineStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    first = text("ร้องเรียน")
    line.spent_tokens.add(first["replyToken"])
    file_a_complaint(line_app, line)
    assert USER not in caplog.text and TOKEN not in caplog.text and SECRET not in caplog.text


def test_a_complaint_that_cannot_be_filed_is_answered_and_not_retried(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    send(line_app, text("ร้องเรียน"))
    with UnitOfWork(database) as uow:
        conversation = uow.session.scalars(select(LineConversation)).one()
        conversation.state = "describe"
        conversation.data = {"category_code": "no_such_category", "description": "เรื่องทดสอบ"}
        uow.commit()
    send(line_app, postback("submit"))
    assert "ไม่สำเร็จ" in line.texts()[-1]
    with UnitOfWork(database) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Ticket)) == 0
        unhandled = uow.session.scalars(select(LineEvent).where(LineEvent.handled_at.is_(None)))
        assert list(unhandled) == []
        assert uow.session.scalars(select(LineConversation.state)).one() == "idle"


def test_with_redis_a_worker_process_handles_the_events_once(
    make_app: Callable[..., Flask],
    line: LineStandIn,
    database: Database,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> None:
    app = make_app(redis_url=REDIS_URL, line_channel_secret=SECRET, call_log_batch_ms=0,
                   line_channel_access_token=TOKEN, line_api_base_url=line.base_url)  # fmt: skip
    first = text("ร้องเรียน")
    send(app, first)
    send(app, {**first, "deliveryContext": {"isRedelivery": True}})
    assert line.replies == []  # the webhook did not wait for the work
    env = {**os.environ, "DATABASE_URL": database.url, "REDIS_URL": REDIS_URL,
           "INSTANCE_DIR": str(tmp_path), "LINE_CHANNEL_SECRET": SECRET,
           "LINE_CHANNEL_ACCESS_TOKEN": TOKEN, "LINE_API_BASE_URL": line.base_url,
           "LOG_LEVEL": "WARNING"}  # fmt: skip
    result = subprocess.run([HOTLINE, "worker", "--burst", "--queue", "default"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(line.wait_for("replies")) == 1
    assert count(database, LineEvent) == 1 and count(database, LineMessage) == 2


def test_progress_of_a_ticket_filed_by_line_is_pushed_once_each(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    file_a_complaint(line_app, line)
    rt = runtime(line_app)
    agent = make_user(database, "agent")
    with UnitOfWork(database) as uow:
        ticket = uow.session.scalars(select(Ticket)).one()
    change_status(rt.uow(), ticket.id, "accepted", agent)
    add_note(rt.uow(), ticket.id, "เจ้าหน้าที่จะลงพื้นที่ตรวจสอบวันพรุ่งนี้", agent, is_public=True)
    add_note(rt.uow(), ticket.id, "บันทึกภายใน ห้ามส่ง", agent)
    assert isinstance(rt.jobs, InlineJobs)
    rt.jobs.join()
    pushes = line.wait_for("pushes", 2)
    texts = [m["text"] for p in pushes for m in p["messages"]]
    assert len(pushes) == 2 and all(p["to"] == USER for p in pushes)
    assert "รับเรื่องของท่านไว้พิจารณาแล้ว" in texts[0]
    assert "ลงพื้นที่ตรวจสอบ" in texts[1] and not any("ภายใน" in t for t in texts)
    with UnitOfWork(database) as uow:
        pushed = uow.session.execute(select(LinePush.id, LinePush.state)).all()
    assert [state for _, state in pushed] == ["sent", "sent"]
    with line_app.app_context():
        assert push_progress(pushed[0][0]) == "done before"  # asked again: nothing twice
    assert len(line.pushes) == 2


def test_when_line_refuses_a_push_the_words_go_by_sms(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    send(line_app, text("ร้องเรียน"))
    phone_ticket = make_ticket(database, channel="walk_in", caller_phone="0812345678")
    with UnitOfWork(database) as uow:
        conversation_id = uow.session.scalars(select(LineConversation.id)).one()
        uow.session.add(LineTicket(ticket_id=phone_ticket.id, conversation_id=conversation_id))
        uow.commit()
    line.refuse_pushes = True
    agent = make_user(database, "agent")
    rt = runtime(line_app)
    add_note(rt.uow(), phone_ticket.id, "กรุณานำเอกสารสิทธิ์มาที่ศูนย์", agent, is_public=True)
    assert isinstance(rt.jobs, InlineJobs)
    rt.jobs.join()
    with UnitOfWork(database) as uow:
        push = uow.session.scalars(select(LinePush)).one()
        sms = uow.session.scalars(select(SmsMessage).where(SmsMessage.kind == "line_note")).one()
    assert push.state == "failed" and sms.to_number == "+66812345678"
    assert "เอกสารสิทธิ์" in sms.body and ucs2_segments(sms.body) <= 2


def test_one_opt_out_stops_progress_by_line_and_can_be_undone(
    line_app: Flask, line: LineStandIn, database: Database
) -> None:
    file_a_complaint(line_app, line)
    send(line_app, text("หยุดแจ้งเตือน"))
    assert "หยุดส่งความคืบหน้า" in line.texts()[-1]
    rt = runtime(line_app)
    agent = make_user(database, "agent")
    with UnitOfWork(database) as uow:
        ticket_id = uow.session.scalars(select(Ticket.id)).one()
    change_status(rt.uow(), ticket_id, "accepted", agent)
    assert isinstance(rt.jobs, InlineJobs)
    rt.jobs.join()
    assert line.pushes == [] and count(database, LinePush) == 0
    send(line_app, text("รับแจ้งเตือน"))
    add_note(rt.uow(), ticket_id, "นัดหมายลงพื้นที่แล้ว", agent, is_public=True)
    rt.jobs.join()
    assert len(line.wait_for("pushes")) == 1
