"""What a citizen may see of a complaint without signing in (the /track page), and the proof
that lets them: the ticket number plus the last four digits of the phone that filed it, or the
citizen ID it was filed with.

Only the status, the agency holding it, the public notes and the dates; nothing else of the
ticket (no description, name, phone, ID, staff names or internal notes). A wrong number and a
wrong proof give the same answer (None), so the page cannot tell which tickets exist.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketing.citizen_id import normalize_citizen_id
from ticketing.errors import ValidationError
from ticketing.models import Agency, Note, Referral, ReferralStatus, StatusChange, Ticket
from ticketing.numbers import parse_ticket_number
from ticketing.statuses import STATUS_TEXT, TicketStatus

OPEN_REFERRALS = (ReferralStatus.SENT.value, ReferralStatus.IN_PROGRESS.value)
MAX_NOTES = 50


@dataclass(frozen=True, slots=True)
class PublicStep:
    at: datetime
    label_th: str
    label_en: str


@dataclass(frozen=True, slots=True)
class PublicNote:
    at: datetime
    body: str


@dataclass(frozen=True, slots=True)
class PublicView:
    number_display: str
    status: TicketStatus
    status_label_th: str
    status_label_en: str
    citizen_th: str
    opened_at: datetime
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    updated_at: datetime
    agencies_th: tuple[str, ...]
    agencies_en: tuple[str, ...]
    steps: tuple[PublicStep, ...]
    notes: tuple[PublicNote, ...]


def proof_kind(proof: str) -> str | None:
    """``phone4`` for four digits, ``citizen_id`` for 13 (spaces and hyphens allowed)."""
    digits = "".join(ch for ch in proof if ch.isdigit())
    if len(digits) != len(proof.replace(" ", "").replace("-", "")):
        return None
    if len(digits) == 4:
        return "phone4"
    if len(digits) == 13:
        return "citizen_id"
    return None


def public_view(session: Session, number_text: str, proof: str) -> PublicView | None:
    """The ticket's public view if ``proof`` matches it; None for any mismatch whatsoever."""
    try:
        number = parse_ticket_number(number_text)
    except ValidationError:
        return None
    kind = proof_kind(proof.strip())
    if kind is None:
        return None
    ticket = session.scalars(
        select(Ticket).where(Ticket.number == number.digits, Ticket.is_training.is_(False))
    ).one_or_none()
    if ticket is None or not _proven(ticket, kind, proof):
        return None
    return _view(session, ticket, number.display)


def _proven(ticket: Ticket, kind: str, proof: str) -> bool:
    if kind == "phone4":
        phone = ticket.caller_phone or ""
        given = "".join(ch for ch in proof if ch.isdigit())
        return len(phone) >= 8 and hmac.compare_digest(phone[-4:], given)
    try:
        given_id = normalize_citizen_id(proof)
    except ValidationError:
        return False
    return ticket.citizen_id is not None and hmac.compare_digest(ticket.citizen_id, given_id)


def _view(session: Session, ticket: Ticket, number_display: str) -> PublicView:
    status = TicketStatus(ticket.status)
    agencies = session.execute(
        select(Agency.name_th, Agency.name_en)
        .join(Referral, Referral.agency_id == Agency.id)
        .where(Referral.ticket_id == ticket.id, Referral.status.in_(OPEN_REFERRALS))
        .order_by(Referral.sent_at)
    ).all()
    steps = session.scalars(
        select(StatusChange).where(StatusChange.ticket_id == ticket.id).order_by(StatusChange.id)
    ).all()
    notes = session.scalars(
        select(Note)
        .where(Note.ticket_id == ticket.id, Note.is_public.is_(True))
        .order_by(Note.id)
        .limit(MAX_NOTES)
    ).all()
    return PublicView(
        number_display=number_display,
        status=status,
        status_label_th=STATUS_TEXT[status].label_th,
        status_label_en=STATUS_TEXT[status].label_en,
        citizen_th=STATUS_TEXT[status].citizen_th,
        opened_at=ticket.created_at,
        due_at=ticket.due_at,
        resolved_at=ticket.resolved_at,
        closed_at=ticket.closed_at,
        updated_at=ticket.updated_at,
        agencies_th=tuple(a.name_th for a in agencies),
        agencies_en=tuple(a.name_en for a in agencies),
        steps=tuple(
            PublicStep(
                s.created_at,
                STATUS_TEXT[TicketStatus(s.to_status)].label_th,
                STATUS_TEXT[TicketStatus(s.to_status)].label_en,
            )
            for s in steps
        ),
        notes=tuple(PublicNote(n.created_at, n.body) for n in notes),
    )
