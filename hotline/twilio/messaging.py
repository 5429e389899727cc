"""Twilio messaging webhooks: delivery status of citizen SMS, and replies (STOP / START).

Served by :mod:`hotline.twilio.router` like every /twilio/* URL. Both always answer TwiML:
an empty answer for a status, a Thai confirmation for STOP and START.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from hotline.background.notifications import (
    keep_reply,
    record_delivery,
    record_reply,
    replies_waiting,
    reply_word,
)
from hotline.runtime import Runtime
from hotline.twilio.router import Route, WebhookRequest, no_answer
from ivr_flows.twiml import EMPTY_TWIML, Response
from ticketing.phones import normalize_phone

log = logging.getLogger(__name__)
REPLIES = {
    "stop": "ศูนย์ดำรงธรรม 1567: ยกเลิกการรับข้อความแล้ว หากต้องการรับอีกครั้ง ส่ง START",
    "start": "ศูนย์ดำรงธรรม 1567: ท่านจะได้รับข้อความแจ้งความคืบหน้าเรื่องร้องเรียนอีกครั้ง",
}


class MessagingWebhooks:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def routes(self) -> dict[str, Route]:
        return {
            "/twilio/sms-status": Route(self.sms_status, no_answer),
            "/twilio/sms": Route(self.incoming_sms, no_answer),
        }

    def sms_status(self, request: WebhookRequest) -> str:
        """Delivery reports for the SMS we sent."""
        form = request.form
        record_delivery(self.rt.uow(), form.get("MessageSid", ""), form.get("MessageStatus", ""))
        return EMPTY_TWIML

    def incoming_sms(self, request: WebhookRequest) -> str:
        """A citizen wrote to our number: honour STOP and START, and say so in Thai.

        With the database down a STOP or START is kept in Redis and recorded by the worker once
        it is back (an opt-out must never be lost); the citizen is told at once."""
        phone = normalize_phone(request.form.get("From")).e164
        if phone is None:
            return EMPTY_TWIML
        body, redis = request.form.get("Body", ""), self.rt.redis
        outcome = reply_word(body)
        if outcome is None:
            return EMPTY_TWIML
        try:
            if redis is not None and replies_waiting(redis):
                keep_reply(redis, phone, body, self.rt.clock())
            else:
                outcome = record_reply(self.rt.uow(), phone, body)
        except SQLAlchemyError:
            if redis is None:
                raise
            log.warning("database unavailable: SMS %s reply kept for the worker", outcome)
            keep_reply(redis, phone, body, self.rt.clock())
        if outcome is None:
            return EMPTY_TWIML
        response = Response()
        response.message(REPLIES[outcome])
        return str(response)
