"""What an agency does with a referral: post progress, answer it, or send it back.

Agency users act only on referrals to their own agency. Each action is one transaction with a
note on the ticket (public, so the citizen can be told) and an audit event. Sending a referral
back needs a reason and, when no other agency still holds the ticket, returns it to the center.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from ticketing.audit import record_audit
from ticketing.db.base import utcnow
from ticketing.db.uow import UnitOfWork
from ticketing.errors import (
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)
from ticketing.models import Note, Referral, ReferralStatus, Role, StatusChange, Ticket
from ticketing.permissions import Actor
from ticketing.statuses import TicketStatus, check_transition

MAX_TEXT = 5000
OPEN = (ReferralStatus.SENT, ReferralStatus.IN_PROGRESS)


def post_progress(uow: UnitOfWork, referral_id: int, text: str, actor: Actor) -> Referral:
    """The agency is working on it: the referral is in progress; the note says what was done."""
    return _act(uow, referral_id, text, actor, ReferralStatus.IN_PROGRESS, "referral.progress")


def answer(uow: UnitOfWork, referral_id: int, text: str, actor: Actor) -> Referral:
    """The agency's answer: the referral is answered, the center decides what follows."""
    return _act(uow, referral_id, text, actor, ReferralStatus.ANSWERED, "referral.answer")


def send_back(uow: UnitOfWork, referral_id: int, reason: str, actor: Actor) -> Referral:
    """Not this agency's matter: back to the center, with the reason (required)."""
    return _act(uow, referral_id, reason, actor, ReferralStatus.RETURNED, "referral.return")


def _act(
    uow: UnitOfWork,
    referral_id: int,
    text: str,
    actor: Actor,
    status: ReferralStatus,
    action: str,
    now: datetime | None = None,
) -> Referral:
    body = text.strip()
    if not body:
        raise ValidationError("write what was done, the answer or the reason", field="text")
    if len(body) > MAX_TEXT:
        raise ValidationError(f"at most {MAX_TEXT} characters", field="text")
    when = now or utcnow()
    _check_role(actor)
    with uow:
        session = uow.session
        referral = session.get(Referral, referral_id, with_for_update=True)
        if referral is None or not _visible(actor, referral):
            raise NotFoundError(f"no referral with id {referral_id}", field="referral")
        if referral.status not in OPEN:
            raise ValidationError(f"the referral is already {referral.status}", field="referral")
        ticket = session.get(Ticket, referral.ticket_id, with_for_update=True)
        assert ticket is not None  # noqa: S101 - a referral always has its ticket (FK)
        before = {"status": referral.status}
        referral.status = status.value
        if status != ReferralStatus.IN_PROGRESS:
            referral.answered_at = when
            referral.response = body
        session.add(Note(ticket_id=ticket.id, author_id=actor.user_id, author_label=actor.label,
                         body=f"{referral.agency.name_th}: {body}", is_public=True,
                         created_at=when))  # fmt: skip
        if status == ReferralStatus.RETURNED:
            _back_to_center(uow, ticket, referral, body, actor, when)
        ticket.updated_at = when
        after = {"status": referral.status, "ticket": ticket.number}
        record_audit(session, actor, action, ("referral", str(referral.id)), before=before,
                     after=after, at=when)  # fmt: skip
        uow.commit()
    return referral


def _check_role(actor: Actor) -> None:
    if not actor.is_system and actor.role not in (
        Role.AGENCY,
        Role.AGENT,
        Role.SUPERVISOR,
        Role.ADMIN,
    ):
        raise PermissionDeniedError(f"role {actor.role} may not act on referrals")


def _visible(actor: Actor, referral: Referral) -> bool:
    """An agency sees only its own referrals; to others they do not exist."""
    return actor.role != Role.AGENCY or actor.agency_id == referral.agency_id


def _back_to_center(
    uow: UnitOfWork, ticket: Ticket, referral: Referral, reason: str, actor: Actor, when: datetime
) -> None:
    still_open = uow.session.scalars(
        select(Referral.id).where(
            Referral.ticket_id == ticket.id,
            Referral.id != referral.id,
            Referral.status.in_([s.value for s in OPEN]),
        )
    ).first()
    if still_open is not None or ticket.status != TicketStatus.REFERRED:
        return
    check_transition(TicketStatus.REFERRED, TicketStatus.ACCEPTED, reason)
    ticket.status = TicketStatus.ACCEPTED.value
    uow.session.add(StatusChange(ticket_id=ticket.id, from_status=TicketStatus.REFERRED.value,
                                 to_status=TicketStatus.ACCEPTED.value, reason=reason,
                                 actor_id=actor.user_id, actor_label=actor.label,
                                 created_at=when))  # fmt: skip
