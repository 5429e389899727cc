"""Telling the citizen: which status changes send an SMS, and what it says.

The SMS is written to the outbox (``sms_messages``) in the same transaction as the change, with a
dedupe key per ticket and status, so a change can never send twice and never be forgotten; the
notifications worker sends pending rows. Thai text goes out as UCS-2: 70 characters fit one
segment, 67 per segment beyond that, so the text is kept short.
"""

from __future__ import annotations

import math

from sqlalchemy.orm import Session

from ticketing.db.base import utcnow
from ticketing.db.statements import insert_ignoring_conflicts
from ticketing.models import Channel, SmsMessage, SmsStatus, Ticket
from ticketing.statuses import STATUS_TEXT, TicketStatus

NOTIFY_ON = frozenset(
    {TicketStatus.RECEIVED, TicketStatus.REFERRED, TicketStatus.RESOLVED, TicketStatus.CLOSED}
)
SINGLE_SEGMENT, MULTI_SEGMENT = 70, 67


def sms_body(number: str, status: TicketStatus) -> str:
    """``1567 เรื่อง 6900012346: <the status sentence>`` — the status line's own words."""
    return f"1567 เรื่อง {number}: {STATUS_TEXT[status].citizen_th}"


def ucs2_segments(text: str) -> int:
    units = len(text.encode("utf-16-le")) // 2
    return 1 if units <= SINGLE_SEGMENT else math.ceil(units / MULTI_SEGMENT)


def queue_citizen_update(
    session: Session, ticket: Ticket, status: TicketStatus, *, requested: bool = False
) -> None:
    """Write the outbox row for this status change, if the citizen should hear of it.

    A phone caller is asked in the IVR whether they want their ticket number by SMS
    (``requested``); other channels get the "received" message whenever a number is known.
    """
    if status not in NOTIFY_ON or ticket.is_training or not ticket.caller_phone:
        return
    if status == TicketStatus.RECEIVED and ticket.channel == Channel.PHONE and not requested:
        return
    row = {
        "ticket_id": ticket.id,
        "to_number": ticket.caller_phone,
        "kind": f"status_{status.value}",
        "body": sms_body(ticket.number, status),
        "status": SmsStatus.PENDING.value,
        "dedupe_key": f"status:{ticket.id}:{status.value}",
        "created_at": utcnow(),
    }
    outbox = insert_ignoring_conflicts(session, SmsMessage.__table__)
    session.connection().execute(outbox, [row])  # Core: no autoflush, no ORM insert machinery
