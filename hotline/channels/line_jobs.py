"""LINE's jobs: handle one received webhook event (the conversation's next step, filing the
complaint, the reply), and fetch one photo, voice message or file into the recordings store.

Each event is a ``line_events`` row written by the webhook; the job locks it and does nothing
if it is already handled, so a redelivered event or a retried job changes nothing twice. The
reply goes out after the commit (a reply token is single use and short-lived: at most once).
A LINE user id is personal data and never appears in a log line.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.channels.conversation import (
    Incoming,
    Reply,
    Step,
    advance,
    filed_reply,
    incoming_from_event,
    track_reply,
)
from hotline.channels.line_api import LineApi, LineError
from hotline.channels.line_models import (
    FETCH_CONTENT_JOB,
    AttachmentState,
    Direction,
    LineAttachment,
    LineConversation,
    LineEvent,
    LineMessage,
    LineTicket,
)
from hotline.runtime import Runtime, runtime
from recordings.storage import make_store
from ticketing.audit import record_audit
from ticketing.db.base import utcnow
from ticketing.db.uow import JobRequest, UnitOfWork
from ticketing.errors import TicketingError
from ticketing.filing import TicketDraft
from ticketing.models import Channel, Ticket
from ticketing.numbers import parse_ticket_number
from ticketing.permissions import Actor
from ticketing.services import open_ticket
from ticketing.statuses import STATUS_TEXT, TicketStatus

log = logging.getLogger(__name__)
LINE_ACTOR = Actor.system("line")
TRACK_LIMIT = 5
# What LINE's content API may hand us, and the extension it is kept under.
CONTENT_TYPES = {
    "image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
    "audio/m4a": "m4a", "audio/x-m4a": "m4a", "audio/mp4": "m4a", "audio/aac": "aac",
    "audio/mpeg": "mp3", "video/mp4": "mp4", "application/pdf": "pdf",
}  # fmt: skip
# A file's own type may be anything: it is kept, never served inline (see docs/channels.md).
GENERIC_FILE = "bin"


def handle_event(event_id: int) -> str:
    """The job (``line.handle_event``): one webhook event, once."""
    rt = runtime()
    with rt.uow() as uow:
        session = uow.session
        event = session.scalars(
            select(LineEvent).where(LineEvent.id == event_id).with_for_update()
        ).one_or_none()
        if event is None or event.handled_at is not None:
            return "done before"
        payload = dict(event.payload)
        user_id = _user_id(payload)
        if user_id is None:
            event.handled_at = utcnow()
            uow.commit()
            return "no user"
        conversation = _conversation(session, user_id)
        got = incoming_from_event(payload)
        step = advance(conversation.state, dict(conversation.data or {}), got)
        if not step.file:
            replies = _apply(session, uow, conversation, event, got, step)
            uow.commit()
            _send(rt, payload, user_id, replies)
            return conversation.state
        draft_data = step.data
        webhook_event_id = event.webhook_event_id
    # Filing owns its transaction: the conversation's rows are written in the ticket's.
    replies_out: list[Reply] = []
    filing = rt.uow()

    def also(session: Session, ticket: Ticket) -> None:
        event = session.scalars(
            select(LineEvent).where(LineEvent.id == event_id).with_for_update()
        ).one()
        conversation = _conversation(session, user_id)
        number = parse_ticket_number(ticket.number).display
        done = Step("idle", {}, [filed_reply(number)])
        session.add(LineTicket(ticket_id=ticket.id, conversation_id=conversation.id))
        replies_out.extend(_apply(session, filing, conversation, event, got, done, ticket.id))
        # The chat so far, and what the citizen sent, join the ticket's timeline.
        for row in session.scalars(select(LineMessage).where(
                LineMessage.conversation_id == conversation.id,
                LineMessage.ticket_id.is_(None))):  # fmt: skip
            row.ticket_id = ticket.id
        for media in session.scalars(select(LineAttachment).where(
                LineAttachment.conversation_id == conversation.id,
                LineAttachment.ticket_id.is_(None))):  # fmt: skip
            media.ticket_id = ticket.id

    draft = TicketDraft(
        channel=Channel.LINE.value,
        category_code=str(draft_data.get("category_code", "other")),
        description=str(draft_data.get("description", "")),
        province_code=draft_data.get("province_code"),
        district_code=draft_data.get("district_code"),
        postal_code=draft_data.get("postal_code"),
    )
    try:
        ticket = open_ticket(filing, draft, LINE_ACTOR, tz=rt.settings.tz,
                             external_ref=f"line:{webhook_event_id}", also=also)  # fmt: skip
    except TicketingError as exc:
        # Bad data kept in the conversation (e.g. a category since removed): say so, start again.
        log.warning("LINE complaint not filed: %s (%s)", exc, exc.field)
        return _not_filed(rt, event_id, user_id, got, payload)
    _send(rt, payload, user_id, replies_out)
    log.info("LINE complaint filed", extra={"ticket_number": ticket.number})
    return "filed"


def _apply(
    session: Session,
    uow: UnitOfWork,
    conversation: LineConversation,
    event: LineEvent,
    got: Incoming,
    step: Step,
    ticket_id: int | None = None,
) -> list[Reply]:
    """Write the step: the conversation, the messages in and out, the medium to fetch."""
    now = utcnow()
    replies = list(step.replies)
    if step.track:
        replies = [track_reply(_tracked(session, conversation.id))]
    conversation.state = step.state
    conversation.data = step.data
    if step.notify is not None:
        conversation.opted_out = not step.notify
    conversation.updated_at = now
    session.add(LineMessage(conversation_id=conversation.id, ticket_id=ticket_id,
                            direction=Direction.IN.value, kind=got.kind,
                            text=got.text or got.data or (got.file_name or ""),
                            line_message_id=got.message_id, created_at=now))  # fmt: skip
    for reply in replies:
        session.add(LineMessage(conversation_id=conversation.id, ticket_id=ticket_id,
                                direction=Direction.OUT.value, kind="text", text=reply.text,
                                created_at=now))  # fmt: skip
    if step.attachment is not None and step.attachment.message_id:
        media = LineAttachment(line_message_id=step.attachment.message_id,
                               conversation_id=conversation.id, ticket_id=ticket_id,
                               kind=step.attachment.kind, file_name=step.attachment.file_name,
                               state=AttachmentState.PENDING.value, created_at=now)  # fmt: skip
        session.add(media)
        session.flush()
        uow.after_commit(
            JobRequest(
                FETCH_CONTENT_JOB,
                (media.id,),
                job_id=f"line-content-{media.id}",
                queue="recordings",
            )
        )
    event.handled_at = now
    return replies


def _not_filed(
    rt: Runtime, event_id: int, user_id: str, got: Incoming, payload: dict[str, Any]
) -> str:
    sorry = Step("idle", {}, [Reply("ขออภัยค่ะ ระบบบันทึกเรื่องไม่สำเร็จ กรุณาพิมพ์ “ร้องเรียน” "
                                    "เพื่อเริ่มใหม่ หรือโทร 1567 ค่ะ")])  # fmt: skip
    with rt.uow() as uow:
        event = uow.session.get(LineEvent, event_id, with_for_update=True)
        if event is None or event.handled_at is not None:
            return "done before"
        conversation = _conversation(uow.session, user_id)
        replies = _apply(uow.session, uow, conversation, event, got, sorry)
        event.last_error = "not filed"
        uow.commit()
    _send(rt, payload, user_id, replies)
    return "not filed"


def _tracked(session: Session, conversation_id: int) -> list[tuple[str, str]]:
    rows = session.execute(
        select(Ticket.number, Ticket.status)
        .join(LineTicket, LineTicket.ticket_id == Ticket.id)
        .where(LineTicket.conversation_id == conversation_id)
        .order_by(Ticket.id.desc())
        .limit(TRACK_LIMIT)
    ).all()
    return [(parse_ticket_number(number).display, STATUS_TEXT[TicketStatus(status)].citizen_th)
            for number, status in rows]  # fmt: skip


def _conversation(session: Session, user_id: str) -> LineConversation:
    found = session.scalars(
        select(LineConversation).where(LineConversation.line_user_id == user_id).with_for_update()
    ).one_or_none()
    if found is not None:
        return found
    conversation = LineConversation(line_user_id=user_id, state="idle", data={})
    session.add(conversation)
    session.flush()
    return conversation


def _user_id(payload: dict[str, Any]) -> str | None:
    source = payload.get("source") or {}
    if source.get("type") != "user":
        return None  # groups and rooms are not a citizen's complaint
    user_id = source.get("userId")
    return str(user_id) if user_id else None


def _send(rt: Runtime, payload: dict[str, Any], user_id: str, replies: list[Reply]) -> None:
    """Answer with the event's reply token; push when there is none or it is spent."""
    if not replies:
        return
    api = LineApi(rt.settings)
    token = payload.get("replyToken")
    try:
        if token:
            api.reply(str(token), replies)
            return
    except LineError as exc:
        log.warning("LINE reply failed (%s); pushing instead", exc)
    try:
        api.push(user_id, replies, retry_key=str(uuid.uuid4()))
    except LineError as exc:
        log.warning("LINE push failed: %s", exc)


def fetch_content(attachment_id: int) -> str:
    """The job (``line.fetch_content``): one medium from LINE's content API into the store,
    under a key of our own (never a name the citizen chose), with sha256 and size."""
    rt = runtime()
    with rt.uow() as uow:
        media = uow.session.get(LineAttachment, attachment_id, with_for_update=True)
        if media is None or media.state != AttachmentState.PENDING.value:
            return "done before"
        media.attempts += 1
        message_id, kind = media.line_message_id, media.kind
        uow.commit()
    try:
        content = LineApi(rt.settings).content(message_id)
    except LineError as exc:
        if exc.retryable:
            raise  # RQ retries; the row stays pending
        return _fail(rt, attachment_id, str(exc))
    extension = CONTENT_TYPES.get(content.content_type)
    if extension is None and kind != "file":
        return _fail(rt, attachment_id, f"unexpected content type {content.content_type!r}")
    if not content.body:
        return _fail(rt, attachment_id, "empty content")
    key = f"LN/{attachment_id % 256:02x}/{uuid.uuid4().hex}.{extension or GENERIC_FILE}"
    stored = make_store(rt.settings).put(key, [content.body])
    with rt.uow() as uow:
        media = uow.session.get(LineAttachment, attachment_id, with_for_update=True)
        if media is None:
            return "gone"
        media.state = AttachmentState.STORED.value
        media.storage_key = stored.key
        media.sha256 = stored.sha256
        media.size_bytes = stored.size
        media.content_type = content.content_type or None
        media.stored_at = utcnow()
        media.last_error = None
        record_audit(uow.session, LINE_ACTOR, "line.attachment.store",
                     ("line_attachment", str(attachment_id)),
                     after={"sha256": stored.sha256, "size": stored.size})  # fmt: skip
        uow.commit()
    log.info("LINE attachment %s stored (%d bytes)", attachment_id, stored.size)
    return "stored"


def _fail(rt: Runtime, attachment_id: int, why: str) -> str:
    with rt.uow() as uow:
        media = uow.session.get(LineAttachment, attachment_id, with_for_update=True)
        if media is not None:
            media.state = AttachmentState.FAILED.value
            media.last_error = why[:500]
            uow.commit()
    log.warning("LINE attachment %s failed: %s", attachment_id, why)
    return "failed"
