"""Progress over LINE: every citizen-visible status change and public note of a ticket followed
over LINE becomes a push, written in the same transaction (``line_pushes``, one per change or
note by its dedupe key) and sent by a job after the commit. When LINE refuses or fails for good,
and the ticket has a phone number, the same words go to the SMS outbox instead.

The ticketing services know nothing of LINE (the dependency rule): this module listens to the
sessions of the runtime's database and sees the status changes and notes they flush.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session, sessionmaker

from hotline.channels.conversation import Reply
from hotline.channels.line_api import LineApi, LineError
from hotline.channels.line_models import (
    PUSH_JOB,
    Direction,
    LineConversation,
    LineMessage,
    LinePush,
    LineTicket,
    PushState,
)
from hotline.runtime import Runtime, runtime
from ticketing.db.base import utcnow
from ticketing.db.statements import insert_ignoring_conflicts
from ticketing.db.uow import JobRequest
from ticketing.models import Note, SmsMessage, SmsStatus, StatusChange, Ticket
from ticketing.numbers import parse_ticket_number
from ticketing.statuses import STATUS_TEXT, TicketStatus

log = logging.getLogger(__name__)
PENDING_KEY = "line_pushes"
MAX_NOTE_IN_PUSH = 1000
SMS_MAX = 134
# "Received" is told in the chat when the complaint is filed.
SILENT = frozenset({TicketStatus.RECEIVED})
RETRY_NAMESPACE = uuid.UUID("5d1c1567-0000-4000-8000-00000000a11e")


def status_text(number: str, status: TicketStatus) -> str:
    return f"เรื่อง {parse_ticket_number(number).display}: {STATUS_TEXT[status].citizen_th}"


def note_text(number: str, body: str) -> str:
    words = body if len(body) <= MAX_NOTE_IN_PUSH else body[: MAX_NOTE_IN_PUSH - 1] + "…"
    return f"เรื่อง {parse_ticket_number(number).display}: ข้อความจากเจ้าหน้าที่\n{words}"


def listen(rt: Runtime) -> None:
    """Watch the runtime's sessions: pushes written on flush, their jobs sent on commit."""
    factory: sessionmaker[Session] = rt.db.session_factory

    def after_flush(session: Session, _context: Any) -> None:
        _write_pushes(session)

    def after_commit(session: Session) -> None:
        for push_id in session.info.pop(PENDING_KEY, []):
            try:
                rt.jobs.dispatch(JobRequest(PUSH_JOB, (push_id,), job_id=f"line-push-{push_id}",
                                            queue="notifications"))  # fmt: skip
            except Exception:
                log.exception("LINE push %s not dispatched", push_id)

    def after_rollback(session: Session) -> None:
        session.info.pop(PENDING_KEY, None)

    event.listen(factory, "after_flush", after_flush)
    event.listen(factory, "after_commit", after_commit)
    event.listen(factory, "after_soft_rollback", lambda s, _t: after_rollback(s))


def _write_pushes(session: Session) -> None:
    told: list[tuple[int, str, str, str | TicketStatus]] = []  # ticket, kind, key, what
    for obj in session.new:
        if isinstance(obj, StatusChange) and TicketStatus(obj.to_status) not in SILENT:
            told.append((obj.ticket_id, "status", f"status:{obj.id}", TicketStatus(obj.to_status)))
        elif isinstance(obj, Note) and obj.is_public:
            told.append((obj.ticket_id, "note", f"note:{obj.id}", obj.body))
    if not told:
        return
    conn = session.connection()
    ticket_ids = sorted({t for t, *_ in told})
    followed: dict[int, int] = {t: c for t, c in conn.execute(
        select(LineTicket.ticket_id, LineTicket.conversation_id)
        .join(LineConversation, LineConversation.id == LineTicket.conversation_id)
        .where(LineTicket.ticket_id.in_(ticket_ids), LineConversation.opted_out.is_(False))
    )}  # fmt: skip
    if not followed:
        return
    numbers: dict[int, str] = {i: n for i, n in conn.execute(
        select(Ticket.id, Ticket.number).where(Ticket.id.in_(list(followed)))
    )}  # fmt: skip
    now = utcnow()
    rows = []
    for ticket_id, kind, key, what in told:
        if ticket_id not in followed:
            continue
        number = numbers[ticket_id]
        body = status_text(number, what) if isinstance(what, TicketStatus) else note_text(
            number, str(what))  # fmt: skip
        rows.append({"ticket_id": ticket_id, "conversation_id": followed[ticket_id],
                     "kind": kind, "body": body, "dedupe_key": key,
                     "state": PushState.PENDING.value, "created_at": now})  # fmt: skip
    if not rows:
        return
    conn.execute(insert_ignoring_conflicts(session, LinePush.__table__), rows)
    keys = [r["dedupe_key"] for r in rows]
    ids = conn.execute(select(LinePush.id).where(LinePush.dedupe_key.in_(keys))).scalars().all()
    session.info.setdefault(PENDING_KEY, []).extend(ids)


def push_progress(push_id: int) -> str:
    """The job (``line.push_progress``): send one progress message, once; SMS if LINE fails."""
    rt = runtime()
    with rt.uow() as uow:
        push = uow.session.get(LinePush, push_id, with_for_update=True)
        if push is None or push.state != PushState.PENDING.value:
            return "done before"
        conversation = uow.session.get(LineConversation, push.conversation_id)
        if conversation is None or conversation.opted_out:
            push.state = PushState.FAILED.value
            push.last_error = "opted out"
            uow.commit()
            return "opted out"
        push.state = PushState.SENDING.value  # a crash now never sends it twice blindly
        user_id, body, key = conversation.line_user_id, push.body, push.dedupe_key
        uow.commit()
    try:
        # LINE's retry key: the same push asked twice is delivered once.
        LineApi(rt.settings).push(user_id, [Reply(body)], retry_key=str(
            uuid.uuid5(RETRY_NAMESPACE, key)))  # fmt: skip
    except LineError as exc:
        log.warning("LINE push %s failed: %s", push_id, exc)
        return _fall_back_to_sms(rt, push_id, str(exc))
    with rt.uow() as uow:
        push = uow.session.get(LinePush, push_id, with_for_update=True)
        if push is not None:
            push.state = PushState.SENT.value
            push.sent_at = utcnow()
            uow.session.add(LineMessage(conversation_id=push.conversation_id,
                                        ticket_id=push.ticket_id, direction=Direction.OUT.value,
                                        kind="text", text=push.body))  # fmt: skip
            uow.commit()
    return "sent"


def _fall_back_to_sms(rt: Runtime, push_id: int, why: str) -> str:
    with rt.uow() as uow:
        session = uow.session
        push = session.get(LinePush, push_id, with_for_update=True)
        if push is None:
            return "gone"
        push.state = PushState.FAILED.value
        push.last_error = why[:500]
        phone = session.scalar(select(Ticket.caller_phone).where(Ticket.id == push.ticket_id))
        outcome = "failed"
        if phone:
            session.execute(insert_ignoring_conflicts(session, SmsMessage.__table__),
                            [{"ticket_id": push.ticket_id, "to_number": phone,
                              "kind": f"line_{push.kind}", "body": _sms_words(push.body),
                              "status": SmsStatus.PENDING.value,
                              "dedupe_key": f"line-fallback:{push.dedupe_key}",
                              "created_at": utcnow()}])  # fmt: skip
            outcome = "sms"
        uow.commit()
    return outcome


def _sms_words(body: str) -> str:
    """At most two UCS-2 segments (134 characters), as every citizen SMS."""
    return body if len(body) <= SMS_MAX else body[: SMS_MAX - 1] + "…"
