"""Service functions: each is one transaction that validates, changes, audits and commits.

Input is checked before anything is written, and a failure anywhere rolls the whole unit of work
back, so bad input changes nothing. Every change writes an AuditEvent in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketing.audit import record_audit
from ticketing.db.base import utcnow
from ticketing.db.uow import UnitOfWork
from ticketing.errors import NotFoundError, PermissionDeniedError, ValidationError
from ticketing.filing import (
    BANGKOK,
    TicketDraft,
    clean_draft,
    enum_value,
    log_opened,
    new_ticket_values,
    snapshot,
    status_values,
)
from ticketing.models import (
    Agency,
    Note,
    Referral,
    ReferralStatus,
    Role,
    StatusChange,
    Ticket,
    User,
)
from ticketing.notify import queue_citizen_update
from ticketing.permissions import Action, Actor, require
from ticketing.reference import reference_data
from ticketing.sla import due_at
from ticketing.statuses import TicketStatus, check_transition

log = logging.getLogger(__name__)
MAX_NOTE = 10_000

__all__ = [
    "TicketDraft",
    "add_note",
    "assign",
    "change_status",
    "merge_duplicate",
    "open_ticket",
    "refer",
]


# Opening a ticket -----------------------------------------------------------------------------


def open_ticket(
    uow: UnitOfWork,
    draft: TicketDraft,
    actor: Actor,
    *,
    tz: ZoneInfo = BANGKOK,
    now: datetime | None = None,
    external_ref: str | None = None,
    also: Callable[[Session, Ticket], None] | None = None,
) -> Ticket:
    """File a complaint and give it a number.

    ``external_ref`` is the filing channel's idempotency key: a second ticket with the same key
    is refused by the database (IntegrityError), so the caller can look the first one up.
    ``also`` runs in the same transaction once the ticket has its id (link a call, a recording).

    Raises:
        ValidationError: a field is missing or wrong (the error names the field).
        PermissionDeniedError: the actor may not open tickets.
    """
    require(actor, Action.OPEN)
    clean = clean_draft(draft)
    opened_at = now or utcnow()
    with uow:
        session = uow.session
        values = new_ticket_values(uow, clean, actor, opened_at, tz, external_ref)
        ticket = _insert_ticket(session, values)
        _record_status(session, ticket, None, TicketStatus.RECEIVED, "", actor, opened_at)
        _audit(session, actor, "ticket.open", ticket, None, snapshot(ticket), opened_at)
        queue_citizen_update(session, ticket, TicketStatus.RECEIVED)
        if also is not None:
            also(session, ticket)
        uow.commit()
    log_opened(clean, ticket.number)
    return ticket


def _insert_ticket(session: Session, values: dict[str, Any]) -> Ticket:
    """The new ticket, flushed so it has its id (the caller's ``also`` links rows to it)."""
    ticket = Ticket(**values)
    session.add(ticket)
    session.flush()
    return ticket


# Changing a ticket ------------------------------------------------------------------------------


def add_note(
    uow: UnitOfWork,
    ticket_id: int,
    body: str,
    actor: Actor,
    *,
    is_public: bool = False,
    now: datetime | None = None,
) -> Note:
    """Add an internal or public note.

    Raises:
        ValidationError: the note is empty or too long.
        NotFoundError: no such ticket (or, for an agency, not one referred to it).
        PermissionDeniedError: the actor may not add notes.
    """
    require(actor, Action.NOTE)
    text = body.strip()
    if not text:
        raise ValidationError("write the note", field="body")
    if len(text) > MAX_NOTE:
        raise ValidationError(f"at most {MAX_NOTE} characters", field="body")
    with uow:
        ticket = _ticket_for(uow.session, ticket_id, actor)
        written_at = now or utcnow()
        note = Note(
            ticket_id=ticket.id,
            author_id=actor.user_id,
            author_label=actor.label,
            body=text,
            is_public=is_public,
            created_at=written_at,
        )
        uow.session.add(note)
        ticket.updated_at = written_at
        uow.session.flush()
        after = {"note_id": note.id, "is_public": is_public}
        _audit(uow.session, actor, "ticket.note", ticket, None, after, written_at)
        uow.commit()
    return note


def change_status(
    uow: UnitOfWork,
    ticket_id: int,
    target: str,
    actor: Actor,
    *,
    reason: str = "",
    now: datetime | None = None,
) -> Ticket:
    """Move a ticket along the workflow (see :mod:`ticketing.statuses`).

    Raises:
        IllegalTransitionError: the workflow does not allow it, or a reason is missing.
        ValidationError: ``target`` is not a status, or is ``duplicate`` (use merge_duplicate).
    """
    require(actor, Action.STATUS)
    status = enum_value(TicketStatus, target, "status")
    if status == TicketStatus.DUPLICATE:
        raise ValidationError("merge the ticket into another to mark it duplicate", field="status")
    if status == TicketStatus.REFERRED:
        raise ValidationError("refer the ticket to an agency to mark it referred", field="status")
    with uow:
        ticket = _ticket_for(uow.session, ticket_id, actor)
        _transition(uow.session, ticket, status, reason.strip(), actor, now)
        uow.commit()
    return ticket


def assign(uow: UnitOfWork, ticket_id: int, assignee_id: int | None, actor: Actor) -> Ticket:
    """Give a ticket to a staff member (or take it back with ``None``).

    Raises:
        ValidationError: the assignee is unknown, inactive or not staff.
        PermissionDeniedError: an agent assigning a ticket to someone else.
    """
    require(actor, Action.ASSIGN)
    if actor.role == Role.AGENT and assignee_id not in (None, actor.user_id):
        raise PermissionDeniedError("an agent may assign tickets only to themselves")
    with uow:
        session = uow.session
        ticket = _ticket_for(session, ticket_id, actor)
        if assignee_id is not None:
            _staff_user(session, assignee_id)
        before = {"assignee_id": ticket.assignee_id}
        ticket.assignee_id = assignee_id
        ticket.updated_at = utcnow()
        _audit(session, actor, "ticket.assign", ticket, before, {"assignee_id": assignee_id})
        uow.commit()
    return ticket


def refer(
    uow: UnitOfWork,
    ticket_id: int,
    agency_ids: list[int],
    actor: Actor,
    *,
    note: str = "",
    tz: ZoneInfo = BANGKOK,
    now: datetime | None = None,
) -> list[Referral]:
    """Send a ticket on (ส่งต่อ) to one or more agencies, each with a business-day deadline.

    Raises:
        ValidationError: no agency given, an agency is unknown or inactive, or already has an
            open referral of this ticket.
        IllegalTransitionError: the ticket's status cannot become ``referred``.
    """
    require(actor, Action.REFER)
    if not agency_ids:
        raise ValidationError("choose at least one agency", field="agency_ids")
    sent_at = now or utcnow()
    with uow:
        session = uow.session
        ticket = _ticket_for(session, ticket_id, actor)
        agencies = _agencies(session, agency_ids)
        _refuse_open_referrals(session, ticket, agencies)
        holidays = reference_data(uow).holidays
        deadline = due_at(sent_at, ticket.category.sla_days, holidays, tz)
        referrals = [
            Referral(
                ticket_id=ticket.id,
                agency_id=agency.id,
                sent_at=sent_at,
                due_at=deadline,
                created_by_id=actor.user_id,
            )
            for agency in agencies
        ]
        session.add_all(referrals)
        if ticket.status != TicketStatus.REFERRED:
            _transition(session, ticket, TicketStatus.REFERRED, note.strip(), actor, sent_at)
        session.flush()
        _audit(
            session,
            actor,
            "ticket.refer",
            ticket,
            None,
            {"agency_ids": [a.id for a in agencies], "due_at": deadline.isoformat()},
        )
        uow.commit()
    return referrals


def merge_duplicate(
    uow: UnitOfWork, duplicate_id: int, into_id: int, actor: Actor, *, reason: str
) -> Ticket:
    """Mark ``duplicate_id`` as a duplicate of ``into_id``; the citizen follows the original.

    Raises:
        ValidationError: merging a ticket into itself or into a ticket that is itself merged.
        IllegalTransitionError: the duplicate's status cannot become ``duplicate``, or no reason.
    """
    require(actor, Action.MERGE)
    if duplicate_id == into_id:
        raise ValidationError("a ticket cannot be merged into itself", field="into")
    with uow:
        session = uow.session
        # Lock both rows in id order so two opposite merges cannot deadlock.
        first, second = sorted((duplicate_id, into_id))
        locked = {i: _ticket_for(session, i, actor) for i in (first, second)}
        duplicate, original = locked[duplicate_id], locked[into_id]
        if original.status == TicketStatus.DUPLICATE:
            raise ValidationError(
                f"ticket {original.number} is itself a duplicate; merge into the one it follows",
                field="into",
            )
        _transition(session, duplicate, TicketStatus.DUPLICATE, reason.strip(), actor)
        duplicate.merged_into_id = original.id
        session.add(
            Note(
                ticket_id=original.id,
                author_id=actor.user_id,
                author_label=actor.label,
                body=f"รวมเรื่องซ้ำ {duplicate.number} เข้ากับเรื่องนี้: {reason.strip()}",
            )
        )
        _audit(session, actor, "ticket.merge", duplicate, None, {"merged_into": original.number})
        uow.commit()
    return duplicate


# Shared steps -------------------------------------------------------------------------------


def _transition(
    session: Session,
    ticket: Ticket,
    target: TicketStatus,
    reason: str,
    actor: Actor,
    at: datetime | None = None,
) -> None:
    current = ticket.status_enum
    check_transition(current, target, reason)
    when = at or utcnow()
    before = snapshot(ticket)
    ticket.status = target.value
    ticket.updated_at = when
    if target == TicketStatus.RESOLVED:
        ticket.resolved_at = when
    if target == TicketStatus.CLOSED:
        ticket.closed_at = when
    if target == TicketStatus.REOPENED:
        ticket.resolved_at = ticket.closed_at = None
    _record_status(session, ticket, current, target, reason, actor, when)
    _audit(session, actor, "ticket.status", ticket, before, snapshot(ticket), when)
    queue_citizen_update(session, ticket, target)


def _record_status(
    session: Session,
    ticket: Ticket,
    current: TicketStatus | None,
    target: TicketStatus,
    reason: str,
    actor: Actor,
    at: datetime,
) -> None:
    session.add(
        StatusChange(ticket_id=ticket.id, **status_values(current, target, reason, actor, at))
    )


def _ticket_for(session: Session, ticket_id: int, actor: Actor) -> Ticket:
    """Load a ticket for update; agencies see only tickets referred to them."""
    # FOR UPDATE serialises concurrent changes on PostgreSQL; SQLite's BEGIN IMMEDIATE already does.
    ticket = session.get(Ticket, ticket_id, with_for_update=True)
    if ticket is None or not _visible_to(session, ticket, actor):
        raise NotFoundError(f"no ticket with id {ticket_id}", field="ticket")
    return ticket


def _visible_to(session: Session, ticket: Ticket, actor: Actor) -> bool:
    if actor.role != Role.AGENCY:
        return True
    referral = session.scalars(
        select(Referral.id).where(
            Referral.ticket_id == ticket.id, Referral.agency_id == actor.agency_id
        )
    ).first()
    return referral is not None


def _staff_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None or not user.is_active or user.role == Role.AGENCY:
        raise ValidationError(f"no active staff member with id {user_id}", field="assignee")
    return user


def _agencies(session: Session, agency_ids: list[int]) -> list[Agency]:
    wanted = list(dict.fromkeys(agency_ids))
    found = {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(wanted)))}
    for agency_id in wanted:
        agency = found.get(agency_id)
        if agency is None or not agency.is_active:
            raise ValidationError(f"no active agency with id {agency_id}", field="agency_ids")
    return [found[i] for i in wanted]


def _refuse_open_referrals(session: Session, ticket: Ticket, agencies: list[Agency]) -> None:
    open_ids = set(
        session.scalars(
            select(Referral.agency_id).where(
                Referral.ticket_id == ticket.id,
                Referral.agency_id.in_([a.id for a in agencies]),
                Referral.answered_at.is_(None),
                Referral.status != ReferralStatus.RETURNED,
            )
        )
    )
    for agency in agencies:
        if agency.id in open_ids:
            raise ValidationError(
                f"already referred to {agency.name_en} and not yet answered", field="agency_ids"
            )


def _audit(
    session: Session,
    actor: Actor,
    action: str,
    ticket: Ticket,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime | None = None,
) -> None:
    record_audit(
        session, actor, action, ("ticket", ticket.number), before=before, after=after, at=at
    )
