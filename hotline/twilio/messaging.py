"""Twilio messaging webhooks: delivery status of citizen SMS, and replies (STOP / START)."""

from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, request
from twilio.twiml.messaging_response import MessagingResponse

from hotline.background.notifications import record_delivery, record_reply
from hotline.runtime import runtime
from hotline.twilio.security import check_twilio_signature, twiml
from ticketing.phones import normalize_phone

bp = Blueprint("messaging", __name__, url_prefix="/twilio")
bp.before_request(check_twilio_signature)
log = logging.getLogger(__name__)
REPLIES = {
    "stop": "ศูนย์ดำรงธรรม 1567: ยกเลิกการรับข้อความแล้ว หากต้องการรับอีกครั้ง ส่ง START",
    "start": "ศูนย์ดำรงธรรม 1567: ท่านจะได้รับข้อความแจ้งความคืบหน้าเรื่องร้องเรียนอีกครั้ง",
}


@bp.post("/sms-status")
def sms_status() -> Response:
    """Delivery reports for the SMS we sent. Always an empty answer, whatever happens."""
    try:
        record_delivery(runtime().uow(), request.form.get("MessageSid", ""),
                        request.form.get("MessageStatus", ""))  # fmt: skip
    except Exception:
        log.exception("could not record an SMS delivery status")
    return twiml(MessagingResponse())


@bp.post("/sms")
def incoming_sms() -> Response:
    """A citizen wrote to our number: honour STOP and START, and say so in Thai."""
    response = MessagingResponse()
    phone = normalize_phone(request.form.get("From")).e164
    try:
        outcome = (
            record_reply(runtime().uow(), phone, request.form.get("Body", "")) if phone else None
        )
    except Exception:
        log.exception("could not record an SMS reply")
        outcome = None
    if outcome is not None:
        response.message(REPLIES[outcome])
    return twiml(response)


def init_messaging(app: Flask) -> None:
    app.register_blueprint(bp)
