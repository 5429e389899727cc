"""The rows a new complaint is made of, built once for both ways of filing it: the cleaned draft,
the new ticket's values (number, centre, deadline), its first status change and its audited
snapshot. ``services.open_ticket`` writes them through the ORM; ``filing_at_once`` in one
PostgreSQL statement.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ticketing.citizen_id import normalize_citizen_id
from ticketing.db.uow import UnitOfWork
from ticketing.errors import ValidationError
from ticketing.locations import Location, validate_location
from ticketing.models import (
    TICKET_SERIAL_SEQUENCE,
    Channel,
    Priority,
    Ticket,
    TicketSerial,
)
from ticketing.numbers import be_year_of, make_ticket_number
from ticketing.permissions import Actor
from ticketing.phones import normalize_phone, parse_phone_strict
from ticketing.reference import reference_data
from ticketing.search import search_document
from ticketing.sla import due_at
from ticketing.statuses import TicketStatus

log = logging.getLogger(__name__)


BANGKOK = ZoneInfo("Asia/Bangkok")


MAX_DESCRIPTION = 10_000


MAX_NAME = 200


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
class CleanDraft:
    channel: Channel
    category_code: str
    description: str
    caller_phone: str | None
    citizen_id: str | None
    citizen_name: str | None
    location: Location | None
    priority: Priority
    is_training: bool


def new_ticket_values(
    uow: UnitOfWork,
    clean: CleanDraft,
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


def log_opened(clean: CleanDraft, number: str) -> None:
    log.info("ticket opened (%s, %s)", clean.channel.value, clean.category_code,
             extra={"ticket_number": number})  # fmt: skip


def clean_draft(draft: TicketDraft) -> CleanDraft:
    """Validate and normalise a draft without touching the database."""
    channel = enum_value(Channel, draft.channel, "channel")
    priority = enum_value(Priority, draft.priority, "priority")
    description = draft.description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise ValidationError(
            f"at most {MAX_DESCRIPTION} characters", field="description", rule="too_long"
        )
    # A phone complaint may be only the caller's recorded words; other channels must be written.
    if not description and channel != Channel.PHONE:
        raise ValidationError("describe the complaint", field="description", rule="empty")
    name = (draft.citizen_name or "").strip() or None
    if name and len(name) > MAX_NAME:
        raise ValidationError(
            f"at most {MAX_NAME} characters", field="citizen_name", rule="too_long"
        )
    return CleanDraft(
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


def status_values(
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


# The audited fields of a ticket (the citizen ID is never copied into the audit trail).
SNAPSHOT_FIELDS = ("number", "status", "category_id", "priority", "assignee_id",
                   "province_code", "district_code", "merged_into_id")  # fmt: skip


def snapshot(ticket: Ticket) -> dict[str, Any]:
    """The audited fields of a ticket, as they are now."""
    return snapshot_of(lambda name: getattr(ticket, name))


def snapshot_of(value_of: Callable[[str], Any]) -> dict[str, Any]:
    return {name: value_of(name) for name in SNAPSHOT_FIELDS}


_E = TypeVar("_E", Channel, Priority, TicketStatus)


def enum_value(kind: type[_E], value: str, field: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise ValidationError(f"{value!r} is not one of {allowed}", field=field) from None
