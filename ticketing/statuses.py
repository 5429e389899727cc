"""Ticket statuses and the workflow between them.

The table below is the whole workflow: a status change not listed is refused with a reason the
agent can act on. Each status also carries the words the citizen hears on the status line and
reads in an SMS, so the phone, the console and the messages always say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from ticketing.errors import IllegalTransitionError


class TicketStatus(StrEnum):
    RECEIVED = "received"
    ACCEPTED = "accepted"
    REFERRED = "referred"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    REOPENED = "reopened"


S = TicketStatus

TRANSITIONS: Mapping[TicketStatus, frozenset[TicketStatus]] = {
    S.RECEIVED: frozenset({S.ACCEPTED, S.REJECTED, S.DUPLICATE}),
    S.ACCEPTED: frozenset({S.REFERRED, S.IN_PROGRESS, S.RESOLVED, S.REJECTED, S.DUPLICATE}),
    # An agency may send a referral back, which returns the ticket to the center (accepted).
    S.REFERRED: frozenset({S.ACCEPTED, S.IN_PROGRESS, S.RESOLVED, S.DUPLICATE}),
    S.IN_PROGRESS: frozenset({S.REFERRED, S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.REJECTED: frozenset({S.REOPENED}),
    S.DUPLICATE: frozenset(),
    S.REOPENED: frozenset({S.ACCEPTED, S.REFERRED, S.IN_PROGRESS, S.RESOLVED, S.REJECTED}),
}

# Changes that must say why: the reason is what the citizen and the auditor will read.
REASON_REQUIRED: frozenset[TicketStatus] = frozenset({S.REJECTED, S.REOPENED, S.DUPLICATE})

# Statuses in which the center's work on the ticket is finished (SLA clocks stop).
FINISHED: frozenset[TicketStatus] = frozenset({S.RESOLVED, S.CLOSED, S.REJECTED, S.DUPLICATE})


@dataclass(frozen=True, slots=True)
class StatusText:
    label_th: str
    label_en: str
    citizen_th: str  # one polite sentence, spoken on the status line and sent by SMS


STATUS_TEXT: Mapping[TicketStatus, StatusText] = {
    S.RECEIVED: StatusText("รับเรื่องแล้ว", "Received", "ศูนย์ดำรงธรรมได้รับเรื่องของท่านแล้ว"),
    S.ACCEPTED: StatusText("รับพิจารณา", "Accepted", "ศูนย์ดำรงธรรมรับเรื่องของท่านไว้พิจารณาแล้ว"),
    S.REFERRED: StatusText(
        "ส่งต่อหน่วยงาน", "Referred", "ศูนย์ดำรงธรรมได้ส่งเรื่องของท่านต่อไปยังหน่วยงานที่รับผิดชอบแล้ว"
    ),
    S.IN_PROGRESS: StatusText("กำลังดำเนินการ", "In progress", "เรื่องของท่านอยู่ระหว่างการดำเนินการ"),
    S.RESOLVED: StatusText("แก้ไขแล้ว", "Resolved", "เรื่องของท่านได้รับการแก้ไขเรียบร้อยแล้ว"),
    S.CLOSED: StatusText("ยุติเรื่อง", "Closed", "ศูนย์ดำรงธรรมดำเนินการเรื่องของท่านเสร็จสิ้นและยุติเรื่องแล้ว"),
    S.REJECTED: StatusText(
        "ไม่รับพิจารณา",
        "Rejected",
        "ศูนย์ดำรงธรรมไม่สามารถรับเรื่องของท่านไว้พิจารณาได้",
    ),
    S.DUPLICATE: StatusText(
        "เรื่องซ้ำ", "Duplicate", "เรื่องของท่านซ้ำกับเรื่องที่ยื่นไว้ก่อนหน้า จึงรวมไว้กับเรื่องเดิมแล้ว"
    ),
    S.REOPENED: StatusText("เปิดเรื่องอีกครั้ง", "Reopened", "ศูนย์ดำรงธรรมได้นำเรื่องของท่านกลับมาพิจารณาอีกครั้ง"),
}


def allowed_targets(current: TicketStatus) -> frozenset[TicketStatus]:
    return TRANSITIONS[current]


def check_transition(current: TicketStatus, target: TicketStatus, reason: str = "") -> None:
    """Refuse a status change the workflow does not allow.

    Raises:
        IllegalTransitionError: the change is not in :data:`TRANSITIONS`, or it needs a reason
            and none was given. The error says which change and why.
    """
    if target == current:
        raise IllegalTransitionError(current, target, "the ticket already has this status")
    if target not in TRANSITIONS[current]:
        raise IllegalTransitionError(current, target, _why_not(current, target))
    if target in REASON_REQUIRED and not reason.strip():
        raise IllegalTransitionError(current, target, f"a reason is required to set {target}")


def _why_not(current: TicketStatus, target: TicketStatus) -> str:
    if current == S.DUPLICATE:
        return "a duplicate follows the ticket it was merged into and cannot change"
    if current in (S.CLOSED, S.REJECTED):
        return f"a {current} ticket can only be reopened"
    if target == S.CLOSED:
        return "only a resolved ticket can be closed"
    if target == S.REOPENED:
        return "only a resolved, closed or rejected ticket can be reopened"
    if target == S.RECEIVED:
        return "no ticket returns to received"
    allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
    return f"from {current} the ticket may go to: {allowed}"


def is_finished(status: TicketStatus) -> bool:
    return status in FINISHED
