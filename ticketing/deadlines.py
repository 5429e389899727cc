"""Deadlines that come close or pass: reminders before, escalation after, "overdue" in lists.

A reminder goes out once per referral (to the agency's users, the agency's contact number by
SMS, and the ticket's assignee) and once per ticket (to its assignee) when the deadline is
``remind_days`` business days away. After the deadline the center's supervisors are told, once
per referral and once per ticket, and the escalation is audited. "Once" is a conditional UPDATE
of ``reminded_at`` / ``escalated_at``: a run that loses the race (another worker, a CLI run)
writes nothing, and the alert rows carry a unique dedupe key as a second guard.
"""

from __future__ import annotations

from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, literal, select, update
from sqlalchemy.orm import Session, joinedload

from ticketing.audit import record_audit
from ticketing.db.statements import insert_ignoring_conflicts
from ticketing.db.uow import UnitOfWork
from ticketing.errors import TicketingError
from ticketing.models import (
    Agency,
    Alert,
    AlertKind,
    Center,
    CenterKind,
    Referral,
    ReferralStatus,
    Role,
    SmsMessage,
    SmsStatus,
    Ticket,
    User,
)
from ticketing.permissions import Actor
from ticketing.phones import parse_phone_strict
from ticketing.reference import reference_data
from ticketing.sla import is_business_day
from ticketing.statuses import FINISHED, TicketStatus

OPEN_REFERRAL = (ReferralStatus.SENT.value, ReferralStatus.IN_PROGRESS.value)
UNFINISHED = tuple(s.value for s in TicketStatus if s not in FINISHED)
BATCH = 500  # per kind and round: a backlog drains over a few rounds, each transaction stays short
JOB_ACTOR = Actor.system("deadlines")


# Overdue: one rule for lists, pages and the job ----------------------------------------------


def ticket_is_overdue(ticket: Ticket, now: datetime) -> bool:
    return ticket.due_at is not None and ticket.due_at < now and ticket.status in UNFINISHED


def referral_is_overdue(referral: Referral, now: datetime) -> bool:
    return referral.due_at < now and referral.status in OPEN_REFERRAL


def is_overdue(item: Ticket | Referral, now: datetime) -> bool:
    """Past its deadline and still waiting on someone (a finished item is never overdue)."""
    if isinstance(item, Referral):
        return referral_is_overdue(item, now)
    return ticket_is_overdue(item, now)


def overdue_tickets(now: datetime) -> ColumnElement[bool]:
    """The same rule as a WHERE clause, for list queries."""
    return and_(Ticket.due_at.is_not(None), Ticket.due_at < now, Ticket.status.in_(UNFINISHED))


def overdue_referrals(now: datetime) -> ColumnElement[bool]:
    return and_(Referral.due_at < now, Referral.status.in_(OPEN_REFERRAL))


def reminder_time(due: datetime, days: int, holidays: Container[date], tz: ZoneInfo) -> datetime:
    """The start (00:00 local) of the business day ``days`` business days before the due day."""
    day = due.astimezone(tz).date()
    remaining = days
    while remaining:
        day -= timedelta(days=1)
        if is_business_day(day, holidays):
            remaining -= 1
    return datetime.combine(day, time(0, 0), tzinfo=tz)


# The job --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeadlineReport:
    reminded: int  # referrals and tickets reminded in this run
    escalated: int  # referrals and tickets escalated in this run
    alerts: int  # in-app alerts written
    sms: int  # SMS queued to agencies' contact numbers


@dataclass
class _Round:
    session: Session
    now: datetime
    tz: ZoneInfo
    reminded: int = 0
    escalated: int = 0
    alerts: int = 0
    sms: int = 0


def run_deadline_checks(
    uow: UnitOfWork, *, now: datetime, tz: ZoneInfo, remind_days: int
) -> DeadlineReport:
    """One round: remind what is due soon, escalate what is overdue; safe to run any time."""
    with uow:
        work = _Round(uow.session, now, tz)
        holidays = reference_data(uow).holidays
        horizon = now + timedelta(days=remind_days * 3 + 14)  # wider than any run of holidays
        # Only deadlines still ahead: past ones are the escalation's (and would crowd the batch).
        for referral in _referrals_due_before(work.session, horizon, reminded=False, after=now):
            start = reminder_time(referral.due_at, remind_days, holidays, tz)
            if start <= now < referral.due_at:
                _remind_referral(work, referral)
        for ticket in _tickets_due_before(work.session, horizon, reminded=False, after=now):
            assert ticket.due_at is not None  # noqa: S101 - the query asks for a due date
            start = reminder_time(ticket.due_at, remind_days, holidays, tz)
            if start <= now < ticket.due_at:
                _remind_ticket(work, ticket)
        for referral in _referrals_due_before(work.session, now, escalated=False):
            _escalate_referral(work, referral)
        for ticket in _tickets_due_before(work.session, now, escalated=False):
            _escalate_ticket(work, ticket)
        uow.commit()
    return DeadlineReport(work.reminded, work.escalated, work.alerts, work.sms)


def _referrals_due_before(
    session: Session, moment: datetime, *, reminded: bool | None = None,
    escalated: bool | None = None, after: datetime | None = None,
) -> list[Referral]:  # fmt: skip
    query = (
        select(Referral)
        .join(Ticket, Ticket.id == Referral.ticket_id)
        .options(joinedload(Referral.agency))
        .where(Referral.status.in_(OPEN_REFERRAL), Referral.due_at <= moment,
               Ticket.is_training.is_(False))
    )  # fmt: skip
    if after is not None:
        query = query.where(Referral.due_at > after)
    if reminded is False:
        query = query.where(Referral.reminded_at.is_(None))
    if escalated is False:
        query = query.where(Referral.escalated_at.is_(None))
    return list(session.scalars(query.order_by(Referral.due_at).limit(BATCH)))


def _tickets_due_before(
    session: Session, moment: datetime, *, reminded: bool | None = None,
    escalated: bool | None = None, after: datetime | None = None,
) -> list[Ticket]:  # fmt: skip
    query = select(Ticket).where(
        Ticket.due_at.is_not(None), Ticket.due_at <= moment, Ticket.status.in_(UNFINISHED),
        Ticket.is_training.is_(False),
    )  # fmt: skip
    if after is not None:
        query = query.where(Ticket.due_at > after)
    if reminded is False:
        query = query.where(Ticket.reminded_at.is_(None))
    if escalated is False:
        query = query.where(Ticket.escalated_at.is_(None))
    return list(session.scalars(query.order_by(Ticket.due_at).limit(BATCH)))


def _claim(session: Session, model: type[Ticket] | type[Referral], row_id: int, column: str,
           now: datetime) -> bool:  # fmt: skip
    """Set the mark if nobody has: True for the one run that gets to send the alerts."""
    mark = getattr(model, column)
    result = session.execute(
        update(model).where(model.id == row_id, mark.is_(None)).values({column: now})
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _remind_referral(work: _Round, referral: Referral) -> None:
    if not _claim(work.session, Referral, referral.id, "reminded_at", work.now):
        return
    ticket = _ticket(work.session, referral.ticket_id)
    when = _local_day(referral.due_at, work.tz)
    body = f"เรื่อง {ticket.number} ที่ส่งต่อถึง{referral.agency.name_th} ครบกำหนดตอบ {when}"
    users = _agency_users(work.session, referral.agency_id)
    if ticket.assignee_id is not None:
        users.append(ticket.assignee_id)
    _alert(work, AlertKind.REMINDER, users, ticket, referral, body, referral.due_at)
    _sms_to_agency(work, referral.agency, ticket, referral, when)
    work.reminded += 1
    _audit(work, "referral.remind", ("referral", str(referral.id)), users, referral.due_at)


def _remind_ticket(work: _Round, ticket: Ticket) -> None:
    if not _claim(work.session, Ticket, ticket.id, "reminded_at", work.now):
        return
    assert ticket.due_at is not None  # noqa: S101 - only tickets with a deadline come here
    body = f"เรื่อง {ticket.number} ครบกำหนดดำเนินการ {_local_day(ticket.due_at, work.tz)}"
    users = [ticket.assignee_id] if ticket.assignee_id is not None else []
    _alert(work, AlertKind.REMINDER, users, ticket, None, body, ticket.due_at)
    work.reminded += 1
    _audit(work, "ticket.remind", ("ticket", ticket.number), users, ticket.due_at)


def _escalate_referral(work: _Round, referral: Referral) -> None:
    if not _claim(work.session, Referral, referral.id, "escalated_at", work.now):
        return
    ticket = _ticket(work.session, referral.ticket_id)
    when = _local_day(referral.due_at, work.tz)
    agency = referral.agency.name_th
    body = f"เกินกำหนด: เรื่อง {ticket.number} ส่งต่อถึง{agency} ยังไม่ได้รับคำตอบ (กำหนด {when})"
    users = _supervisors(work.session, ticket.center_id)
    _alert(work, AlertKind.ESCALATION, users, ticket, referral, body, referral.due_at)
    work.escalated += 1
    _audit(work, "referral.escalate", ("referral", str(referral.id)), users, referral.due_at)


def _escalate_ticket(work: _Round, ticket: Ticket) -> None:
    if not _claim(work.session, Ticket, ticket.id, "escalated_at", work.now):
        return
    assert ticket.due_at is not None  # noqa: S101 - only tickets with a deadline come here
    body = (
        f"เกินกำหนด: เรื่อง {ticket.number} ยังไม่แล้วเสร็จ (กำหนด {_local_day(ticket.due_at, work.tz)})"
    )
    users = _supervisors(work.session, ticket.center_id)
    _alert(work, AlertKind.ESCALATION, users, ticket, None, body, ticket.due_at)
    work.escalated += 1
    _audit(work, "ticket.escalate", ("ticket", ticket.number), users, ticket.due_at)


def _alert(
    work: _Round,
    kind: AlertKind,
    user_ids: Iterable[int],
    ticket: Ticket,
    referral: Referral | None,
    body: str,
    due: datetime,
) -> None:
    subject = f"referral:{referral.id}" if referral is not None else f"ticket:{ticket.id}"
    for user_id in dict.fromkeys(user_ids):
        row = {"user_id": user_id, "ticket_id": ticket.id,
               "referral_id": referral.id if referral is not None else None, "kind": kind.value,
               "body": body, "due_at": due, "dedupe_key": f"{kind.value}:{subject}:user:{user_id}",
               "created_at": work.now}  # fmt: skip
        work.alerts += _inserted(work.session, insert_ignoring_conflicts(work.session, Alert), row)


def _sms_to_agency(
    work: _Round, agency: Agency, ticket: Ticket, referral: Referral, when: str
) -> None:
    """The agency's contact number gets one short SMS (the outbox sends it, honouring STOP)."""
    if not agency.contact_phone:
        return
    try:
        to = parse_phone_strict(agency.contact_phone)
    except TicketingError:
        return  # a directory typo must not stop the round; the in-app alerts still go out
    row = {"ticket_id": ticket.id, "to_number": to, "kind": "referral_reminder",
           "body": f"1567 แจ้งเตือน: เรื่อง {ticket.number} ครบกำหนดตอบ {when}",
           "status": SmsStatus.PENDING.value, "dedupe_key": f"reminder:referral:{referral.id}",
           "created_at": work.now}  # fmt: skip
    work.sms += _inserted(work.session, insert_ignoring_conflicts(work.session, SmsMessage), row)


def _inserted(session: Session, insert: Any, row: dict[str, Any]) -> int:
    """1 when the row went in, 0 when its dedupe key was already there."""
    return 0 if session.execute(insert.values(row).returning(literal(1))).first() is None else 1


def _audit(work: _Round, action: str, entity: tuple[str, str], users: list[int],
           due: datetime) -> None:  # fmt: skip
    after: dict[str, Any] = {"due_at": due.isoformat(), "notified_user_ids": sorted(set(users))}
    record_audit(work.session, JOB_ACTOR, action, entity, after=after, at=work.now)


def _ticket(session: Session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None  # noqa: S101 - a referral always has its ticket (FK)
    return ticket


def _agency_users(session: Session, agency_id: int) -> list[int]:
    return list(
        session.scalars(
            select(User.id).where(
                User.agency_id == agency_id, User.role == Role.AGENCY.value, User.is_active
            )
        )
    )


def _supervisors(session: Session, center_id: int) -> list[int]:
    """The center's supervisors; a center without one escalates to the central center's."""
    query = select(User.id).where(User.role == Role.SUPERVISOR.value, User.is_active)
    own = list(session.scalars(query.where(User.center_id == center_id)))
    if own:
        return own
    central = select(Center.id).where(Center.kind == CenterKind.CENTRAL.value)
    return list(session.scalars(query.where(User.center_id.in_(central))))


def _local_day(moment: datetime, tz: ZoneInfo) -> str:
    """24/11/2569: the Buddhist-era date, as agencies write it."""
    local = moment.astimezone(tz)
    return f"{local.day}/{local.month}/{local.year + 543}"
