"""LINE's tables: events received (a redelivery changes nothing twice), each citizen's
conversation (its state lives here, not only in Redis), the messages of the chat (the ticket's
timeline) and the media a citizen sent (kept by the recordings store, with sha256 and size).

A LINE user id is personal data: it is stored here and nowhere else, and never logged.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.base import Base, UTCDateTime, utcnow


class LineEvent(Base):
    """One webhook event, by LINE's ``webhookEventId`` (unique): the job's durable work item."""

    __tablename__ = "line_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    redelivery: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)


class LineConversation(Base):
    """A citizen's chat with the official account: where the guided complaint stands."""

    __tablename__ = "line_conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    state: Mapped[str] = mapped_column(String(24), default="idle")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    opted_out: Mapped[bool] = mapped_column(default=False)  # progress messages by LINE
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LineTicket(Base):
    """A ticket the citizen of a conversation may follow by chat (filed there, or linked)."""

    __tablename__ = "line_tickets"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("line_conversations.id"), index=True)
    linked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Direction(StrEnum):
    IN = "in"
    OUT = "out"


class LineMessage(Base):
    """One message of the chat, in or out; tied to a ticket once the complaint is filed."""

    __tablename__ = "line_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("line_conversations.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    direction: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(16))  # text, image, audio, file, location, …
    text: Mapped[str] = mapped_column(Text, default="")
    line_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class AttachmentState(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"
    PURGED = "purged"


class LineAttachment(Base):
    """A photo, voice message or file a citizen sent: fetched from LINE's content API by a job
    and kept by the recordings store (atomic write, sha256 and size recorded)."""

    __tablename__ = "line_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    line_message_id: Mapped[str] = mapped_column(String(64), unique=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("line_conversations.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # image, audio, video, file
    state: Mapped[str] = mapped_column(String(16), default=AttachmentState.PENDING.value)
    file_name: Mapped[str | None] = mapped_column(String(200))
    content_type: Mapped[str | None] = mapped_column(String(100))
    storage_key: Mapped[str | None] = mapped_column(String(300))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The jobs this channel asks for (hotline/background/jobs.py maps each to its function).
HANDLE_EVENT_JOB = "line.handle_event"
FETCH_CONTENT_JOB = "line.fetch_content"
PUSH_JOB = "line.push_progress"


class PushState(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"


class LinePush(Base):
    """A progress message for a ticket followed over LINE (its outbox): written in the
    transaction of the status change or public note it tells, sent by a job."""

    __tablename__ = "line_pushes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("line_conversations.id"))
    kind: Mapped[str] = mapped_column(String(16))  # status, note
    body: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    state: Mapped[str] = mapped_column(String(16), default=PushState.PENDING.value, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
