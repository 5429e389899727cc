"""Sending citizen SMS from the outbox, and what Twilio tells us back (delivery, STOP).

Rows are written by the ticketing services in the transaction that changed the ticket. The
worker's housekeeper sends pending rows every few seconds. A row is marked ``sending`` before
the REST call: if the process dies right then, the row is not sent again blindly (a citizen
should never get the same SMS twice) and stays visible to operators.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select
from twilio.base.exceptions import TwilioRestException

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


def record_reply(uow: UnitOfWork, phone: str, body: str) -> str | None:
    """An SMS to our number: STOP opts out, START opts back in. Returns "stop", "start" or None."""
    word = body.strip().lower()
    with uow:
        if word in STOP_WORDS:
            row = {"phone": phone, "opted_out_at": utcnow()}
            uow.session.execute(insert_ignoring_conflicts(uow.session, SmsOptOut.__table__), [row])
            uow.commit()
            return "stop"
        if word in START_WORDS:
            uow.session.execute(delete(SmsOptOut).where(SmsOptOut.phone == phone))
            uow.commit()
            return "start"
    return None
