"""Sending citizen SMS from the outbox, and what Twilio tells us back (delivery, STOP).

Rows are written by the ticketing services in the transaction that changed the ticket. The
worker's housekeeper sends pending rows every few seconds. A row is marked ``sending`` before
the REST call: if the process dies right then, the row is not sent again blindly (a citizen
should never get the same SMS twice) and stays visible to operators.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from redis import Redis, RedisError
from sqlalchemy import delete, select
from twilio.base.exceptions import TwilioRestException

from config.redis_keys import SMS_REPLY_OUTBOX
from hotline.runtime import Runtime
from hotline.twilio.rest import SmsNotConfiguredError, TwilioApi
from ticketing.db.base import utcnow
from ticketing.db.statements import insert_ignoring_conflicts
from ticketing.db.uow import UnitOfWork
from ticketing.models import SmsMessage, SmsOptOut, SmsStatus

log = logging.getLogger(__name__)
UNSUBSCRIBED = 21610  # Twilio: the recipient replied STOP
STOP_WORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "ยกเลิก", "หยุด"})
START_WORDS = frozenset({"start", "yes", "unstop", "เริ่ม", "สมัคร"})
DELIVERY = {"sent": SmsStatus.SENT, "delivered": SmsStatus.DELIVERED,
            "undelivered": SmsStatus.FAILED, "failed": SmsStatus.FAILED}  # fmt: skip


def send_pending(rt: Runtime, limit: int = 100) -> int:
    """Send up to ``limit`` pending messages, oldest first; returns how many went out."""
    with rt.uow() as uow:
        ids = list(uow.session.scalars(
            select(SmsMessage.id).where(SmsMessage.status == SmsStatus.PENDING)
            .order_by(SmsMessage.id).limit(limit)
        ))  # fmt: skip
    api = TwilioApi(rt.settings)
    sent = 0
    for message_id in ids:
        try:
            sent += send_one(rt, api, message_id)
        except SmsNotConfiguredError:
            log.warning("citizen SMS are waiting: no sender configured")
            break
    return sent


def send_one(rt: Runtime, api: TwilioApi, message_id: int) -> int:
    claimed = _claim(rt.uow(), message_id)
    if claimed is None:
        return 0
    to, body = claimed
    callback = f"{rt.settings.public_base_url.rstrip('/')}/twilio/sms-status"
    try:
        sid = api.send_sms(to, body, callback)
    except SmsNotConfiguredError:
        _finish(rt.uow(), message_id, SmsStatus.PENDING, error=None)
        raise
    except TwilioRestException as exc:
        status = SmsStatus.OPTED_OUT if exc.code == UNSUBSCRIBED else SmsStatus.FAILED
        _finish(rt.uow(), message_id, status, error=f"Twilio {exc.code}: {exc.msg}"[:500])
        return 0
    except Exception as exc:  # network trouble: no message was created; try again later
        _finish(rt.uow(), message_id, SmsStatus.PENDING, error=f"{type(exc).__name__}: {exc}"[:500])
        return 0
    _finish(rt.uow(), message_id, SmsStatus.SENT, sid=sid)
    return 1


def _claim(uow: UnitOfWork, message_id: int) -> tuple[str, str] | None:
    with uow:
        message = uow.session.get(SmsMessage, message_id, with_for_update=True)
        if message is None or message.status != SmsStatus.PENDING:
            return None
        if uow.session.get(SmsOptOut, message.to_number) is not None:
            message.status = SmsStatus.OPTED_OUT.value
            uow.commit()
            return None
        message.status = SmsStatus.SENDING.value
        uow.commit()
        return message.to_number, message.body


def _finish(uow: UnitOfWork, message_id: int, status: SmsStatus, *, sid: str | None = None,
            error: str | None = None) -> None:  # fmt: skip
    with uow:
        message = uow.session.get(SmsMessage, message_id)
        if message is None:
            return
        message.status = status.value
        message.error = error
        if sid is not None:
            message.twilio_sid, message.sent_at = sid, utcnow()
        uow.commit()


def record_delivery(uow: UnitOfWork, message_sid: str, twilio_status: str) -> None:
    """Twilio's status callback; replays and out-of-order callbacks never move a status back."""
    status = DELIVERY.get(twilio_status)
    if status is None:
        return
    with uow:
        message = uow.session.scalars(
            select(SmsMessage).where(SmsMessage.twilio_sid == message_sid)
        ).first()
        if message is None or message.status in (SmsStatus.DELIVERED, SmsStatus.OPTED_OUT):
            return
        if message.status == SmsStatus.FAILED and status == SmsStatus.SENT:
            return
        message.status = status.value
        uow.commit()


def reply_word(body: str) -> str | None:
    """What a reply asks for, without the database: "stop", "start" or None."""
    word = body.strip().lower()
    if word in STOP_WORDS:
        return "stop"
    if word in START_WORDS:
        return "start"
    return None


def record_reply(uow: UnitOfWork, phone: str, body: str, at: datetime | None = None) -> str | None:
    """An SMS to our number: STOP opts out, START opts back in. Returns "stop", "start" or None.
    ``at``: when the citizen wrote (a reply kept through a database outage is recorded late)."""
    word = body.strip().lower()
    with uow:
        if word in STOP_WORDS:
            row = {"phone": phone, "opted_out_at": at or utcnow()}
            uow.session.execute(insert_ignoring_conflicts(uow.session, SmsOptOut.__table__), [row])
            uow.commit()
            return "stop"
        if word in START_WORDS:
            uow.session.execute(delete(SmsOptOut).where(SmsOptOut.phone == phone))
            uow.commit()
            return "start"
    return None


# Replies kept through a database outage -------------------------------------------------------


def keep_reply(redis: Redis, phone: str, body: str, at: datetime) -> None:
    """Keep a STOP or START for :func:`record_kept_replies` (the database is down, or replies
    kept earlier are still waiting: this one goes behind them, so the last word still wins)."""
    item = {"phone": phone, "body": body[:100], "at": at.isoformat()}
    redis.rpush(SMS_REPLY_OUTBOX, json.dumps(item, ensure_ascii=False))


def replies_waiting(redis: Redis) -> bool:
    """Kept replies wait for the worker (False if Redis cannot say: the database decides)."""
    try:
        return bool(redis.llen(SMS_REPLY_OUTBOX))
    except RedisError:
        return False


def record_kept_replies(rt: Runtime, limit: int = 500) -> int:
    """Record the kept replies in order (housekeeping, every round); returns how many. Each
    leaves Redis only once recorded: a database still down leaves it first in line (the error
    goes up), and recording one twice changes nothing."""
    assert rt.redis is not None  # noqa: S101 - housekeeping runs only with Redis
    done = 0
    while done < limit:
        raw = rt.redis.lindex(SMS_REPLY_OUTBOX, 0)
        if raw is None:
            break
        try:
            item = json.loads(raw)
            phone, body, at = item["phone"], item["body"], datetime.fromisoformat(item["at"])
        except (ValueError, KeyError, TypeError):
            log.error("dropped a kept SMS reply that cannot be read")
            rt.redis.lpop(SMS_REPLY_OUTBOX)
            continue
        record_reply(rt.uow(), phone, body, at)
        rt.redis.lpop(SMS_REPLY_OUTBOX)
        done += 1
    if done:
        log.info("recorded %d SMS replies kept through a database outage", done)
    return done
