"""Recording rows: the durable record of every call recording, whatever Redis forgets.

A row is written (pending) before any job is enqueued; the fetch job moves it to stored. The
sweeper re-enqueues rows that stay pending, so losing Redis or a worker delays, never loses.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.base import Base, UTCDateTime, utcnow


class RecordingState(StrEnum):
    PENDING = "pending"
    STORED = "stored"
    FAILED = "failed"
    ABSENT = "absent"
    PURGED = "purged"


class Recording(Base):
    __tablename__ = "recordings"

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    call_sid: Mapped[str] = mapped_column(String(64), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    source: Mapped[str] = mapped_column(String(40), default="RecordVerb")
    channels: Mapped[int] = mapped_column(default=1)
    state: Mapped[str] = mapped_column(String(16), default=RecordingState.PENDING.value, index=True)
    media_url: Mapped[str] = mapped_column(String(500), default="")
    storage_key: Mapped[str | None] = mapped_column(String(300))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None]
    duration_s: Mapped[int | None]
    content_type: Mapped[str | None] = mapped_column(String(60))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    stored_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    twilio_deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
