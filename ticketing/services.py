"""Service functions: each is one transaction that validates, changes, audits and commits.

Input is checked before anything is written, and a failure anywhere rolls the whole unit of work
back, so bad input changes nothing. Every change writes an AuditEvent in the same transaction.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CTE, ColumnElement, Select, Table, bindparam, func, insert, select
from sqlalchemy.orm import Session, make_transient_to_detached

from ticketing.audit import audit_insert, audit_values, record_audit
from ticketing.citizen_id import normalize_citizen_id
from ticketing.db.base import utcnow
from ticketing.db.uow import UnitOfWork
from ticketing.errors import NotFoundError, PermissionDeniedError, ValidationError
from ticketing.locations import Location, validate_location
from ticketing.models import (
    TICKET_SERIAL_SEQUENCE,
    Agency,
    Channel,
    Note,
    Priority,
    Referral,
    ReferralStatus,
    Role,
    StatusChange,
    Ticket,
    TicketSerial,
    User,
)
from ticketing.notify import queue_citizen_update
from ticketing.numbers import be_year_of, make_ticket_number
from ticketing.permissions import Action, Actor, require
from ticketing.phones import normalize_phone, parse_phone_strict
from ticketing.reference import reference_data
from ticketing.search import search_document
from ticketing.sla import due_at
from ticketing.statuses import TicketStatus, check_transition

log = logging.getLogger(__name__)
BANGKOK = ZoneInfo("Asia/Bangkok")
MAX_DESCRIPTION = 10_000
MAX_NOTE = 10_000
MAX_NAME = 200

__all__ = [
    "FiledTicket",
    "TicketDraft",
    "add_note",
    "assign",
    "change_status",
    "merge_duplicate",
    "open_ticket",
    "open_ticket_at_once",
    "refer",
]


@dataclass(frozen=True, slots=True)
class TicketDraft:
    """What a new complaint holds, as it arrives from the IVR, a form or the API."""

    channel: str
    category_code: str
    description: str = ""
    caller_phone: str | None = None
    citizen_id: str | None = None
    citizen_name: str | None = None
    province_code: str | None = None
    district_code: str | None = None
    subdistrict_code: str | None = None
    postal_code: str | None = None
    priority: str = Priority.NORMAL.value
    is_training: bool = False


@dataclass(frozen=True, slots=True)
class _CleanDraft:
    channel: Channel
    category_code: str
    description: str
    caller_phone: str | None
    citizen_id: str | None
    citizen_name: str | None
    location: Location | None
    priority: Priority
    is_training: bool


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
        values = _new_ticket_values(uow, clean, actor, opened_at, tz, external_ref)
        ticket = _insert_ticket(session, **values)
        _record_status(session, ticket, None, TicketStatus.RECEIVED, "", actor, opened_at)
        _audit(session, actor, "ticket.open", ticket, None, snapshot(ticket), opened_at)
        queue_citizen_update(session, ticket, TicketStatus.RECEIVED)
        if also is not None:
            also(session, ticket)
        uow.commit()
    _log_opened(clean, ticket.number)
    return ticket


@dataclass(frozen=True, slots=True)
class FiledTicket:
    """A ticket filed by ``open_ticket_at_once``: what its caller needs to know of it."""

    id: int
    number: str


# More writes for the filing statement, given its ``ticket`` CTE (the new row's id): the CTEs
# to run with it and the columns they add to its one result row. The statement is built once
# per TicketWrites and kept: give a module-level function, never a lambda made per call.
TicketWrites = Callable[[CTE], tuple[Sequence[CTE], Sequence[ColumnElement[Any]]]]


def open_ticket_at_once(
    uow: UnitOfWork,
    draft: TicketDraft,
    actor: Actor,
    *,
    tz: ZoneInfo = BANGKOK,
    now: datetime | None = None,
    external_ref: str | None = None,
    also: TicketWrites | None = None,
    also_values: Mapping[str, Any] | None = None,
) -> tuple[FiledTicket, tuple[Any, ...]]:
    """``open_ticket`` for a phone complaint on PostgreSQL, as one autocommitted statement.

    The ticket, its first status change and its audit event (and ``also``'s writes, run with
    ``also_values``) are data-modifying CTEs of one statement: one round trip and no ORM,
    where ``open_ticket`` makes five (BEGIN, three INSERTs, COMMIT), and its ``also`` more,
    and builds the ORM object.
    The IVR files every complaint this way, in the middle of a call. No SMS is queued: the
    caller is asked afterwards whether they want one. The rows written are the ones
    ``open_ticket`` writes (tests compare them). Returns the ticket and ``also``'s columns.

    Raises:
        ValidationError, PermissionDeniedError: as ``open_ticket``.
        IntegrityError: a ticket with this ``external_ref`` exists already.
        ValueError: not a phone complaint, or not on PostgreSQL.
    """
    require(actor, Action.OPEN)
    clean = clean_draft(draft)
    if clean.channel != Channel.PHONE or uow.dialect != "postgresql":
        raise ValueError("open_ticket_at_once files phone complaints on PostgreSQL only")
    opened_at = now or utcnow()
    with uow:  # a serial block and the reference data may need a read
        values = _new_ticket_values(uow, clean, actor, opened_at, tz, external_ref)
    status = _status_values(None, TicketStatus.RECEIVED, "", actor, opened_at)
    after = _snapshot_of(values.__getitem__)
    audit = audit_values(actor, "ticket.open", ("ticket", values["number"]), after=after,
                         at=opened_at)  # fmt: skip
    params = {**_prefixed("t_", values), **_prefixed("s_", status), **_prefixed("a_", audit)}
    extra = also_values or {}
    if params.keys() & extra.keys():
        raise ValueError(f"also_values may not set {sorted(params.keys() & extra.keys())}")
    row = uow.database.fetch_alone(_opening_statement(also), {**params, **extra})
    if row is None:  # the ticket CTE always gives its row
        raise RuntimeError("the filing statement returned no row")
    _log_opened(clean, values["number"])
    return FiledTicket(row[0], values["number"]), tuple(row[1:])


def _new_ticket_values(
    uow: UnitOfWork,
    clean: _CleanDraft,
    actor: Actor,
    opened_at: datetime,
    tz: ZoneInfo,
    external_ref: str | None,
) -> dict[str, Any]:
    """Every column of a new ticket but its id: its number, centre, deadline and the rest."""
    reference = reference_data(uow)
    category = reference.category(clean.category_code)
    serial = _next_serial(uow)
    number = make_ticket_number(be_year_of(opened_at, tz), serial)
    return {
        "number": number.digits,
        "serial": serial,
        "channel": clean.channel.value,
        "category_id": category.id,
        "description": clean.description,
        "caller_phone": clean.caller_phone,
        "citizen_id": clean.citizen_id,
        "citizen_name": clean.citizen_name,
        "center_id": reference.center_for(clean.location.province_code if clean.location else None),
        "status": TicketStatus.RECEIVED.value,
        "priority": clean.priority.value,
        "due_at": due_at(opened_at, category.sla_days, reference.holidays, tz),
        "created_by_id": actor.user_id,
        "is_training": clean.is_training,
        "external_ref": external_ref,
        "created_at": opened_at,
        "updated_at": opened_at,
        "search_text": search_document(
            number=number.digits,
            description=clean.description,
            caller_phone=clean.caller_phone,
            citizen_name=clean.citizen_name,
        ),
        "assignee_id": None,
        "merged_into_id": None,
        "resolved_at": None,
        "closed_at": None,
        "reminded_at": None,
        "escalated_at": None,
        **_location_columns(clean.location),
    }


def _log_opened(clean: _CleanDraft, number: str) -> None:
    log.info("ticket opened (%s, %s)", clean.channel.value, clean.category_code,
             extra={"ticket_number": number})  # fmt: skip


def _prefixed(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return {prefix + name: value for name, value in values.items()}


_TICKETS = cast(Table, Ticket.__table__)
_TICKET_INSERT = insert(_TICKETS).returning(_TICKETS.c.id)


def _insert_ticket(session: Session, **values: Any) -> Ticket:
    """A new ticket row (every column given), and the ticket in the session as that row.

    One Core INSERT … RETURNING: the ORM's flush of a new object (unit of work, attribute
    history, identity bookkeeping) cost more than the statement itself, on every filing. The
    object then joins the session as if loaded; a column left out would be expired (read back
    on first use), so the caller gives them all (tests check none is left unloaded).
    """
    ticket_id = session.connection().execute(_TICKET_INSERT, values).scalar_one()
    ticket = Ticket(id=ticket_id, **values)
    make_transient_to_detached(ticket)
    session.add(ticket)
    return ticket


@cache
def _opening_statement(also: TicketWrites | None) -> Select[Any]:
    """``WITH ticket AS (INSERT … RETURNING id), status AS (INSERT … SELECT … FROM ticket),
    audit AS (INSERT …)[, also's CTEs] SELECT ticket.id[, also's columns]``; its values are
    bound as ``t_<column>``, ``s_<column>`` and ``a_<column>``. Built once per ``also``."""
    tickets, changes = _TICKETS, cast(Table, StatusChange.__table__)
    ticket_values = {c.name: bindparam(f"t_{c.name}", type_=c.type) for c in tickets.c
                     if c.name != "id"}  # fmt: skip
    ticket = insert(tickets).values(ticket_values).returning(tickets.c.id).cte("ticket")
    status_columns = [c for c in changes.c if c.name not in ("id", "ticket_id")]
    status = (
        insert(changes)
        .from_select(
            ["ticket_id", *(c.name for c in status_columns)],
            select(ticket.c.id, *(bindparam(f"s_{c.name}", type_=c.type) for c in status_columns)),
        )
        .cte("status")
    )
    audit = audit_insert("a_").cte("audit")
    ctes, columns = also(ticket) if also is not None else ((), ())
    return select(ticket.c.id, *columns).add_cte(status, audit, *ctes)


def clean_draft(draft: TicketDraft) -> _CleanDraft:
    """Validate and normalise a draft without touching the database."""
    channel = _enum(Channel, draft.channel, "channel")
    priority = _enum(Priority, draft.priority, "priority")
    description = draft.description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(f"at most {MAX_DESCRIPTION} characters", field="description")
    # A phone complaint may be only the caller's recorded words; other channels must be written.
    if not description and channel != Channel.PHONE:
        raise ValidationError("describe the complaint", field="description")
    name = (draft.citizen_name or "").strip() or None
    if name and len(name) > MAX_NAME:
        raise ValidationError(f"at most {MAX_NAME} characters", field="citizen_name")
    return _CleanDraft(
        channel=channel,
        category_code=draft.category_code.strip(),
        description=description,
        caller_phone=_clean_phone(draft.caller_phone, channel),
        citizen_id=normalize_citizen_id(draft.citizen_id) if draft.citizen_id else None,
        citizen_name=name,
        location=_clean_location(draft),
        priority=priority,
        is_training=draft.is_training,
    )


def _clean_phone(raw: str | None, channel: Channel) -> str | None:
    if not raw or not raw.strip():
        return None
    # Twilio's caller ID may be withheld: that is a fact about the call, not a user error.
    if channel == Channel.PHONE:
        return normalize_phone(raw).e164
    return parse_phone_strict(raw)


def _clean_location(draft: TicketDraft) -> Location | None:
    codes = (draft.province_code, draft.district_code, draft.subdistrict_code, draft.postal_code)
    if not any(codes):
        return None
    if not draft.province_code:
        raise ValidationError("choose a province", field="province_code")
    return validate_location(
        draft.province_code,
        draft.district_code or None,
        draft.subdistrict_code or None,
        draft.postal_code or None,
    )


class _SerialBlock:
    """Serials taken from the PostgreSQL sequence a block at a time, like a sequence CACHE.

    One round trip per block instead of one per ticket; numbers from concurrent processes
    interleave (as with CACHE) but never repeat, and unused serials at exit are just gaps.
    """

    SIZE = 20

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._serials: list[int] = []

    def take(self, session: Session) -> int:
        with self._lock:
            if not self._serials:
                series = func.generate_series(1, self.SIZE).table_valued("n")
                query = select(TICKET_SERIAL_SEQUENCE.next_value()).select_from(series)
                self._serials = sorted(session.scalars(query), reverse=True)
            return self._serials.pop()


def _serial_block(uow: UnitOfWork) -> _SerialBlock:
    # setdefault is atomic, so threads sharing the Database share one block.
    return cast(_SerialBlock, uow.memo.setdefault("ticketing.serials", _SerialBlock()))


def _location_columns(location: Location | None) -> dict[str, str | None]:
    if location is None:
        return dict.fromkeys(("province_code", "district_code", "subdistrict_code", "postal_code"))
    return {
        "province_code": location.province_code,
        "district_code": location.district_code,
        "subdistrict_code": location.subdistrict_code,
        "postal_code": location.postal_code,
    }


def _next_serial(uow: UnitOfWork) -> int:
    """A serial no other writer can get: a sequence on PostgreSQL, AUTOINCREMENT on SQLite."""
    session = uow.session
    if uow.dialect == "postgresql":
        return _serial_block(uow).take(session)
    row = TicketSerial()
    session.add(row)
    session.flush()
    return row.id


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
    status = _enum(TicketStatus, target, "status")
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


_STATUS_CHANGE_INSERT = insert(StatusChange)  # run on the connection: a plain Core INSERT


def _record_status(
    session: Session,
    ticket: Ticket,
    current: TicketStatus | None,
    target: TicketStatus,
    reason: str,
    actor: Actor,
    at: datetime,
) -> None:
    row = {"ticket_id": ticket.id, **_status_values(current, target, reason, actor, at)}
    session.connection().execute(_STATUS_CHANGE_INSERT, [row])  # Core: nothing reads it back


def _status_values(
    current: TicketStatus | None, target: TicketStatus, reason: str, actor: Actor, at: datetime
) -> dict[str, Any]:
    return {
        "from_status": current.value if current else None,
        "to_status": target.value,
        "reason": reason,
        "actor_id": actor.user_id,
        "actor_label": actor.label,
        "created_at": at,
    }


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


# The audited fields of a ticket (the citizen ID is never copied into the audit trail).
SNAPSHOT_FIELDS = ("number", "status", "category_id", "priority", "assignee_id",
                   "province_code", "district_code", "merged_into_id")  # fmt: skip


def snapshot(ticket: Ticket) -> dict[str, Any]:
    """The audited fields of a ticket, as they are now."""
    return _snapshot_of(lambda name: getattr(ticket, name))


def _snapshot_of(value_of: Callable[[str], Any]) -> dict[str, Any]:
    return {name: value_of(name) for name in SNAPSHOT_FIELDS}


_E = TypeVar("_E", Channel, Priority, TicketStatus)


def _enum(kind: type[_E], value: str, field: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValidationError(f"{value!r} is not one of {allowed}", field=field) from None
