"""The call log: one Call per Twilio CallSid and an append-only stream of CallEvents.

CallEvents are shaped like Asterisk's queue_log (one row per thing that happened, with the node
and the value); every call metric is derived from them. ``dedupe_key`` makes a replayed webhook
write nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticketing.db.base import Base, UTCDateTime, utcnow
from ticketing.models import Ticket, User

call_tickets = Table(
    "call_tickets",
    Base.metadata,
    Column("call_id", ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True),
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
)


NOT_ROLLED_UP = "rolled_up_at IS NULL"


class Call(Base):
    __tablename__ = "calls"
    __table_args__ = (
        Index("ix_calls_started", "started_at"),
        Index("ix_calls_ended", "ended_at"),
        Index("ix_calls_wrapped_up", "wrapped_up_at"),  # the metrics refresh finds late wrap-ups
        # The few calls not yet in the metric rollups: the refresh adds them, readers' tail.
        Index(
            "ix_calls_not_rolled_up",
            "started_at",
            postgresql_where=text(NOT_ROLLED_UP),
            sqlite_where=text(NOT_ROLLED_UP),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_number: Mapped[str | None] = mapped_column(String(20), index=True)
    # Caller IDs as Twilio gave them, kept whole: a SIP caller ID can be hundreds of characters.
    from_raw: Mapped[str] = mapped_column(Text, default="")
    to_number: Mapped[str] = mapped_column(Text, default="")
    direction: Mapped[str] = mapped_column(String(20), default="inbound")
    twilio_status: Mapped[str] = mapped_column(String(20), default="ringing")
    outcome: Mapped[str | None] = mapped_column(String(30))
    last_node: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_s: Mapped[int | None]
    queue_wait_s: Mapped[int | None]
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_sequence: Mapped[int] = mapped_column(default=-1)
    is_training: Mapped[bool] = mapped_column(Boolean, default=False)
    disposition: Mapped[str | None] = mapped_column(String(30))  # the agent's wrap-up code
    wrapped_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Metric rollups' bookkeeping: the cut-off of the refresh that added this call (NULL: not
    # added yet). A call whose end reaches the log late is still added, exactly once.
    rolled_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # When Twilio's own call records filled this call in (or its end): the log had a gap.
    reconciled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    agent: Mapped[User | None] = relationship()
    tickets: Mapped[list[Ticket]] = relationship(secondary=call_tickets)


class CallEvent(Base):
    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    node: Mapped[str | None] = mapped_column(String(80))
    value: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dedupe_key: Mapped[str | None] = mapped_column(String(160), unique=True)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RefusedLogEntry(Base):
    """A call-log entry (or an undecodable buffered item) the database refused, kept for an
    operator in PostgreSQL: Redis is a buffer, and a flush of it would erase the evidence.
    ``item`` is ASCII JSON (NUL bytes and lone surrogates escaped), so it always stores."""

    __tablename__ = "call_log_refused"

    id: Mapped[int] = mapped_column(primary_key=True)
    refused_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    reason: Mapped[str] = mapped_column(String(300))
    item: Mapped[str] = mapped_column(Text)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
