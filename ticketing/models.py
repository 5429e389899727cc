"""Persistent records of the complaint domain (SQLAlchemy 2 typed declarative models).

The rules live in pure modules (statuses, numbers, citizen_id, phones, locations, sla); these
classes only hold state. Services in :mod:`ticketing.services` change them, one transaction each.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    Sequence,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticketing.db.base import Base, UTCDateTime, utcnow
from ticketing.statuses import TicketStatus


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    AGENCY = "agency"


class CenterKind(StrEnum):
    CENTRAL = "central"
    PROVINCE = "province"
    DISTRICT = "district"


class Channel(StrEnum):
    PHONE = "phone"
    WALK_IN = "walk_in"
    LETTER = "letter"
    WEB = "web"
    API = "api"
    LINE = "line"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class ReferralStatus(StrEnum):
    SENT = "sent"
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    RETURNED = "returned"


# PostgreSQL hands out ticket serials from this sequence; SQLite uses TicketSerial below.
TICKET_SERIAL_SEQUENCE = Sequence("ticket_serial_seq", metadata=Base.metadata)


class TicketSerial(Base):
    """SQLite's stand-in for a sequence: AUTOINCREMENT rowids are never reused."""

    __tablename__ = "ticket_serials"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)


class Center(Base):
    """A Damrongdhamma Center: the central one, a provincial hall's, or a district office's."""

    __tablename__ = "centers"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    province_code: Mapped[str | None] = mapped_column(String(2), index=True)
    district_code: Mapped[str | None] = mapped_column(String(4))


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    sla_days: Mapped[int] = mapped_column(default=15)
    sort_order: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


agency_categories = Table(
    "agency_categories",
    Base.metadata,
    Column("agency_id", ForeignKey("agencies.id", ondelete="CASCADE"), primary_key=True),
    Column("category_id", ForeignKey("categories.id", ondelete="CASCADE"), primary_key=True),
)


class Agency(Base):
    """An agency complaints are referred (ส่งต่อ) to: national, or provincial with a province."""

    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_th: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300))
    scope: Mapped[str] = mapped_column(String(16), default="national")
    province_code: Mapped[str | None] = mapped_column(String(2))
    contact_phone: Mapped[str | None] = mapped_column(String(20))
    contact_email: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    categories: Mapped[list[Category]] = relationship(secondary=agency_categories)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    center_id: Mapped[int | None] = mapped_column(ForeignKey("centers.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    locale: Mapped[str] = mapped_column(String(8), default="th")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    center: Mapped[Center | None] = relationship()
    agency: Mapped[Agency | None] = relationship()


class Ticket(Base):
    """A complaint. ``number`` is what citizens key and hear; ``id`` never leaves the system."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_created", "status", "created_at"),
        Index("ix_tickets_province_created", "province_code", "created_at"),
        Index("ix_tickets_category_created", "category_id", "created_at"),
        # Substring search (LIKE '%term%') on PostgreSQL; SQLite scans (see docs/search.md).
        Index(
            "ix_tickets_search_text_trgm",
            "search_text",
            postgresql_using="gin",
            postgresql_ops={"search_text": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    serial: Mapped[int] = mapped_column(unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    description: Mapped[str] = mapped_column(Text, default="")
    caller_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    citizen_id: Mapped[str | None] = mapped_column(String(13), index=True)
    citizen_name: Mapped[str | None] = mapped_column(String(200))
    province_code: Mapped[str | None] = mapped_column(String(2))
    district_code: Mapped[str | None] = mapped_column(String(4))
    subdistrict_code: Mapped[str | None] = mapped_column(String(6))
    postal_code: Mapped[str | None] = mapped_column(String(5))
    center_id: Mapped[int] = mapped_column(ForeignKey("centers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.RECEIVED.value)
    priority: Mapped[str] = mapped_column(String(8), default=Priority.NORMAL.value)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    # Idempotency key of the channel that filed it (e.g. "ivr:CA…"): a replay finds, not files.
    external_ref: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    is_training: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set once by the deadline job (ticketing.deadlines): each alert goes out at most once.
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Number, phone forms, name and description, normalised (ticketing.search.search_document);
    # only ever read by the database, so not loaded with the ticket.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="", deferred=True)

    category: Mapped[Category] = relationship()
    center: Mapped[Center] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])

    @property
    def status_enum(self) -> TicketStatus:
        return TicketStatus(self.status)


class StatusChange(Base):
    """Who changed a ticket's status, when and why: the citizen's progress history."""

    __tablename__ = "ticket_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Note(Base):
    """A note on a ticket: internal (staff only) or public (may be told to the citizen)."""

    __tablename__ = "notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_label: Mapped[str] = mapped_column(String(80))
    body: Mapped[str] = mapped_column(Text)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Referral(Base):
    """A ticket sent on to an agency, with its deadline and the agency's answer."""

    __tablename__ = "referrals"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.SENT.value)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    response: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    agency: Mapped[Agency] = relationship()


class AlertKind(StrEnum):
    REMINDER = "reminder"  # the deadline is near
    ESCALATION = "escalation"  # the deadline has passed: the center's supervisors are told


class Alert(Base):
    """An in-app notice to one user about a deadline; ``dedupe_key`` makes each one unique."""

    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEvent(Base):
    """Append-only: who did what to which record, with the values before and after (PDPA)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity_type", "entity_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_label: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ApiToken(Base):
    """A bearer token for the REST API. Only its SHA-256 is stored; the secret is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(12))
    scopes: Mapped[str] = mapped_column(String(400), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmsStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # handed to Twilio; a crash here is not retried blindly (no duplicates)
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    OPTED_OUT = "opted_out"


class SmsMessage(Base):
    """An SMS to a citizen (outbox): written in the transaction that decides to send it.

    ``dedupe_key`` (e.g. "ticket-number:42", "status:42:resolved") makes every request to send
    idempotent; a job sends pending rows and the delivery callback updates ``status``.
    """

    __tablename__ = "sms_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    to_number: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(30))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=SmsStatus.PENDING.value, index=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    twilio_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SmsOptOut(Base):
    """A number that replied STOP: no SMS goes to it until it replies START."""

    __tablename__ = "sms_opt_outs"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Holiday(Base):
    """A public holiday (Asia/Bangkok calendar): business hours and business-day deadlines."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name_th: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
