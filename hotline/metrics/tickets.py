"""Ticket and referral figures, straight from the ticket tables (far fewer rows than calls)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from ticketing.models import Referral, ReferralStatus, Ticket
from ticketing.statuses import FINISHED


@dataclass(frozen=True, slots=True)
class TicketScope:
    """Which tickets a figure covers: created in [start, end), optionally narrowed."""

    start: datetime
    end: datetime
    center_id: int | None = None
    province_code: str | None = None
    agency_id: int | None = None  # agency users: only what was referred to them

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = [Ticket.is_training.is_(False)]
        if self.center_id is not None:
            found.append(Ticket.center_id == self.center_id)
        if self.province_code is not None:
            found.append(Ticket.province_code == self.province_code)
        if self.agency_id is not None:
            referred = select(Referral.ticket_id).where(Referral.agency_id == self.agency_id)
            found.append(Ticket.id.in_(referred))
        return found


def tickets_by(
    session: Session, scope: TicketScope, dimension: str
) -> list[tuple[str | int | None, int]]:
    """Tickets created in the scope grouped by category_id, province_code, center_id or status."""
    column = getattr(Ticket, dimension)
    query = select(column, func.count()).where(
        Ticket.created_at >= scope.start, Ticket.created_at < scope.end
    )
    rows = session.execute(
        query.where(*scope.conditions()).group_by(column).order_by(func.count().desc())
    )
    return [(key, int(count)) for key, count in rows]


def overdue_tickets(session: Session, scope: TicketScope, now: datetime) -> int:
    """Open tickets past their due date today, whenever they were created."""
    query = select(func.count()).where(
        Ticket.due_at < now, Ticket.status.not_in([s.value for s in FINISHED])
    )
    return int(session.scalar(query.where(*scope.conditions())) or 0)


@dataclass(frozen=True, slots=True)
class Turnaround:
    agency_id: int
    sent: int
    answered: int
    overdue: int
    average_hours: float | None


def referral_turnaround(session: Session, scope: TicketScope, now: datetime) -> list[Turnaround]:
    """Referrals sent in the range, per agency: answered, still open past due, mean hours."""
    query = (
        select(
            Referral.agency_id,
            Referral.sent_at,
            Referral.answered_at,
            Referral.due_at,
            Referral.status,
        )
        .join(Ticket, Ticket.id == Referral.ticket_id)
        .where(Referral.sent_at >= scope.start, Referral.sent_at < scope.end)
    )
    query = query.where(*scope.conditions())
    if scope.agency_id is not None:
        query = query.where(Referral.agency_id == scope.agency_id)
    sent: dict[int, int] = defaultdict(int)
    overdue: dict[int, int] = defaultdict(int)
    hours: dict[int, list[float]] = defaultdict(list)
    for agency_id, sent_at, answered_at, due_at, status in session.execute(query):
        sent[agency_id] += 1
        # A referral sent back also gets answered_at: only real answers count as answered.
        if status == ReferralStatus.ANSWERED and answered_at is not None:
            hours[agency_id].append((answered_at - sent_at).total_seconds() / 3600)
        elif status != ReferralStatus.RETURNED and due_at < now:
            overdue[agency_id] += 1
    return [
        Turnaround(a, sent[a], len(hours[a]), overdue[a],
                   sum(hours[a]) / len(hours[a]) if hours[a] else None)
        for a in sorted(sent, key=lambda a: -sent[a])
    ]  # fmt: skip
