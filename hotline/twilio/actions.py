"""What the IVR asks the application to check and do: validators and actions.

The engine (ivr_flows) decides; this module touches the domain. Every action is idempotent per
call: filing twice finds the first ticket (``external_ref``), asking twice for an SMS finds the
first message (``dedupe_key``), and lookups only read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, cached_property
from typing import Any, cast

from sqlalchemy import CTE, Integer, Table, bindparam, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline.calls.kinds import CallEventKind
from hotline.calls.log import LogEntry, call_row_values
from hotline.calls.models import Call, call_tickets
from hotline.runtime import Runtime
from ivr_flows.engine import ActionResult, CallState, Validation
from ivr_flows.thai import spoken_digits, thai_date
from recordings.models import Recording
from ticketing.citizen_id import normalize_citizen_id
from ticketing.db.statements import insert_for_dialect, insert_ignoring_conflicts, upsert_statement
from ticketing.db.uow import UnitOfWork
from ticketing.errors import TicketingError, ValidationError
from ticketing.locations import DistrictCandidate, districts_for_postal_code, province_choices
from ticketing.models import Center, StatusChange, Ticket
from ticketing.notify import queue_citizen_update
from ticketing.numbers import parse_ticket_number
from ticketing.permissions import Actor
from ticketing.phones import normalize_phone, parse_phone_strict
from ticketing.services import FiledTicket, TicketDraft, open_ticket, open_ticket_at_once
from ticketing.statuses import STATUS_TEXT, TicketStatus

log = logging.getLogger(__name__)
IVR_ACTOR = Actor.system("ivr")
PROVINCE_NAMES = {code: name_th for code, name_th, _ in province_choices()}


@dataclass(frozen=True)
class CallInfo:
    """What the webhook knows about the call that is not in the IVR state."""

    call_sid: str
    raw_from: str
    now: datetime

    @cached_property
    def caller(self) -> str | None:
        """E.164, or None when the caller ID is withheld (parsed only when an action needs it)."""
        return normalize_phone(self.raw_from).e164


@dataclass
class ActionOutput:
    result: ActionResult
    entries: list[LogEntry]


Action = Callable[[Runtime, CallState, CallInfo], ActionOutput]


# Validators -------------------------------------------------------------------------------


def validate_postal_code(digits: str) -> Validation:
    try:
        candidates = districts_for_postal_code(digits)
    except ValidationError:
        return Validation(False)
    if not candidates:
        return Validation(False)
    return Validation(True, digits, _postal_vars(digits, candidates))


def _postal_vars(postal_code: str, found: list[DistrictCandidate]) -> dict[str, str]:
    provinces = list(dict.fromkeys(c.province_code for c in found))
    districts = " หรือ".join(_district_label(c.district_name_th) for c in found[:3])
    province = PROVINCE_NAMES.get(provinces[0], "") if len(provinces) == 1 else ""
    place = f"{districts} {_province_label(provinces[0], province)}" if province else districts
    values = {"postal_place": place.strip(), "postal_code": postal_code}
    if len(provinces) == 1:
        values["province_code"] = provinces[0]
    if len(found) == 1:
        values["district_code"] = found[0].district_code
    return values


def _district_label(name: str) -> str:
    return name if name.startswith("เขต") else f"อำเภอ{name}"


def _province_label(code: str, name: str) -> str:
    return name if code == "10" else f"จังหวัด{name}"


def validate_citizen_id(digits: str) -> Validation:
    try:
        cid = normalize_citizen_id(digits)
    except ValidationError:
        return Validation(False)
    return Validation(True, cid, {"citizen_id_spoken": _grouped(cid, (1, 4, 5, 2, 1))})


def validate_ticket_number(digits: str) -> Validation:
    try:
        number = parse_ticket_number(digits)
    except ValidationError:
        return Validation(False)
    return Validation(True, number.digits, {"ticket_query_spoken": spoken_digits(number.digits)})


def validate_phone(digits: str) -> Validation:
    try:
        e164 = parse_phone_strict(digits)
    except ValidationError:
        return Validation(False)
    return Validation(True, e164, {"phone_spoken": spoken_digits(digits)})


def validate_digits(digits: str) -> Validation:
    ok = digits.isdecimal()
    return Validation(
        ok, digits if ok else "", {"digits_spoken": spoken_digits(digits)} if ok else {}
    )


VALIDATORS = {
    "digits": validate_digits,
    "postal_code": validate_postal_code,
    "citizen_id": validate_citizen_id,
    "ticket_number": validate_ticket_number,
    "phone": validate_phone,
}


def _grouped(digits: str, sizes: tuple[int, ...]) -> str:
    groups, start = [], 0
    for size in sizes:
        groups.append(spoken_digits(digits[start : start + size]))
        start += size
    return ", ".join(groups)


def ticket_digits(number: str) -> str:
    """A ticket number as the caller hears it: year, serial and check digit, with pauses."""
    return ", ".join(spoken_digits(part) for part in (number[:2], number[2:-1], number[-1]))


# Actions ----------------------------------------------------------------------------------


def file_ticket(rt: Runtime, state: CallState, call: CallInfo) -> ActionOutput:
    """File the complaint the caller just described (once per call, whatever is replayed)."""
    ticket = file_ticket_for_call(rt, call.call_sid, call.caller, state.data, call.now)
    data = {"ticket_number": ticket.number, "ticket_digits": ticket_digits(ticket.number)}
    return ActionOutput(ActionResult("ok", data), [filed_entry(call, ticket.number)])


def filed_entry(call: CallInfo, number: str) -> LogEntry:
    """The call log's "ticket filed" event: one per call, whichever path filed it."""
    key = f"{call.call_sid}:ticket_filed"
    return LogEntry(
        call.call_sid, CallEventKind.TICKET_FILED, call.now, "file_ticket", number, dedupe_key=key
    )


def file_ticket_for_call(
    rt: Runtime,
    call_sid: str,
    caller: str | None,
    data: Mapping[str, str],
    now: datetime,
    *,
    look_first: bool = False,
) -> FiledTicket:
    """The call's ticket: filed now, or found if it was filed already, with its recording linked.

    Both the <Record> action and the recording status callback call this, so a caller who
    hangs up right after speaking still gets a ticket. The action usually comes first and
    files at once; the callback, usually second, looks first (``look_first``). Either way the
    unique ``external_ref`` lets only one of them file.
    """
    ref = f"ivr:{call_sid}"
    if look_first:
        existing = _ticket_by_ref(rt, ref)
        if existing is not None:
            return _linked(rt, call_sid, existing)
    draft = TicketDraft(
        channel="phone",
        category_code=data.get("category", "other"),
        caller_phone=caller,
        citizen_id=data.get("citizen_id"),
        province_code=data.get("province_code"),
        district_code=data.get("district_code"),
        postal_code=data.get("postal_code"),
        is_training=data.get("training") == "1",
    )
    filing = _CallFiling(draft, call_sid, caller, data, now, ref)
    try:
        if rt.db.dialect == "postgresql":
            return _file_at_once(rt, filing)
        return _file_step_by_step(rt, filing)
    except IntegrityError:  # the other path filed it a moment ago
        found = _ticket_by_ref(rt, ref)
        if found is None:
            raise
        return _linked(rt, call_sid, found)


@dataclass(frozen=True, slots=True)
class _CallFiling:
    """A complaint to file for a call: the draft and what links it to the call."""

    draft: TicketDraft
    call_sid: str
    caller: str | None
    data: Mapping[str, str]
    now: datetime
    ref: str  # the ticket's external_ref: one ticket per call


def _file_at_once(rt: Runtime, filing: _CallFiling) -> FiledTicket:
    """PostgreSQL: the ticket, its status change and audit event, the call row, the link and
    the recording row, all in one autocommitted statement (``open_ticket_at_once``)."""
    sid, now = filing.call_sid, filing.now
    call_row = call_row_values(sid, now, {"from_number": filing.caller,
                                          "from_raw": filing.caller or ""})  # fmt: skip
    recording = _recording_row(sid, 0, filing.data, now)
    values = {f"call_{k}": v for k, v in call_row.items()}
    values.update({f"rec_{k}": v for k, v in (recording or {}).items() if k != "ticket_id"})
    writes = _link_with_recording if recording is not None else _link_call
    ticket, (call_id,) = open_ticket_at_once(rt.uow(), filing.draft, IVR_ACTOR,
                                             tz=rt.settings.tz, now=now, external_ref=filing.ref,
                                             also=writes, also_values=values)  # fmt: skip
    if call_id is None:
        # The call log committed the call row after the statement's snapshot was taken, so
        # the statement could neither insert it nor see it. The ticket and the recording are
        # filed; the link follows in a statement of its own (a new snapshot sees the row).
        _linked(rt, sid, ticket)
    return ticket


def _linked(rt: Runtime, call_sid: str, ticket: FiledTicket) -> FiledTicket:
    """Link the call to its ticket if the call log has its row (idempotent). On PostgreSQL
    the filing statement links it, except when it raced the call log; then this statement
    does, or, if it fails, the next path to find the ticket (a replay, the recording's status
    callback). It never fails the webhook: the ticket is filed."""
    if rt.db.dialect != "postgresql":
        return ticket  # open_ticket linked it in the ticket's own transaction
    try:
        link = {"call_sid": call_sid, "ticket_id": ticket.id}
        rt.db.execute_alone(_link_logged_call(rt.db.dialect), [link])
    except Exception:
        log.exception("could not link call %s to ticket %s", call_sid, ticket.number)
    return ticket


@cache
def _link_logged_call(dialect: str) -> Any:
    """``INSERT INTO call_tickets SELECT id, :ticket_id FROM calls WHERE call_sid = :call_sid
    ON CONFLICT DO NOTHING``: nothing when the call row is missing or already linked."""
    logged = select(Call.id, bindparam("ticket_id", type_=Integer)).where(
        Call.call_sid == bindparam("call_sid")
    )
    insert = insert_for_dialect(dialect)(call_tickets)
    return insert.from_select(["call_id", "ticket_id"], logged).on_conflict_do_nothing()


def _file_step_by_step(rt: Runtime, filing: _CallFiling) -> FiledTicket:
    """SQLite: ``open_ticket``, with the call and the recording linked in its transaction."""

    def link(session: Session, ticket: Ticket) -> None:
        link_call_and_recording(session, filing.call_sid, filing.caller, ticket.id,
                                filing.data, filing.now)  # fmt: skip

    ticket = open_ticket(rt.uow(), filing.draft, IVR_ACTOR, tz=rt.settings.tz, now=filing.now,
                         external_ref=filing.ref, also=link)  # fmt: skip
    return FiledTicket(ticket.id, ticket.number)


def _ticket_by_ref(rt: Runtime, ref: str) -> FiledTicket | None:
    with rt.uow() as uow:
        query = select(Ticket.id, Ticket.number).where(Ticket.external_ref == ref)
        row = uow.session.execute(query).first()
        return None if row is None else FiledTicket(row.id, row.number)


def link_call_and_recording(
    session: Session,
    call_sid: str,
    caller: str | None,
    ticket_id: int,
    data: Mapping[str, str],
    now: datetime,
) -> None:
    """In the ticket's own transaction: the call row (if the call log is behind), the
    call–ticket link and the recording row, each an idempotent upsert (``open_ticket``'s
    ``also``; PostgreSQL files phone tickets with all of them in one statement instead)."""
    call_row = call_row_values(call_sid, now, {"from_number": caller, "from_raw": caller or ""})
    _link_step_by_step(session, call_row, ticket_id, _recording_row(call_sid, ticket_id, data, now))


def _recording_row(
    call_sid: str, ticket_id: int, data: Mapping[str, str], now: datetime
) -> dict[str, Any] | None:
    sid = data.get("recording_sid")
    if not sid:
        return None
    duration = data.get("recording_duration", "")
    return {"sid": sid, "call_sid": call_sid, "ticket_id": ticket_id,
            "media_url": data.get("recording_url", ""), "state": "pending",
            "source": "RecordVerb", "channels": 1, "attempts": 0, "created_at": now,
            "duration_s": int(duration) if duration.isdecimal() else None}  # fmt: skip


_RECORDING_KEEPS = ("ticket_id", "duration_s")  # a replayed or late link updates only these


def _link_step_by_step(
    session: Session, call_row: dict[str, Any], ticket_id: int, recording: dict[str, Any] | None
) -> None:
    conn = session.connection()  # Core statements: none of this goes through the ORM
    conn.execute(insert_ignoring_conflicts(session, Call.__table__), [call_row])
    call_sid = call_row["call_sid"]
    call_id = conn.execute(select(Call.id).where(Call.call_sid == call_sid)).scalar_one()
    link = {"call_id": call_id, "ticket_id": ticket_id}
    conn.execute(insert_ignoring_conflicts(session, call_tickets), [link])
    if recording is not None:
        upsert = upsert_statement(session, Recording.__table__, "sid", list(_RECORDING_KEEPS))
        conn.execute(upsert, [recording])


def _link_call(ticket: CTE) -> tuple[list[CTE], list[Any]]:
    return _call_link_writes(ticket, with_recording=False)


def _link_with_recording(ticket: CTE) -> tuple[list[CTE], list[Any]]:
    return _call_link_writes(ticket, with_recording=True)


def _call_link_writes(ticket: CTE, *, with_recording: bool) -> tuple[list[CTE], list[Any]]:
    """The filing statement's CTEs for the call: ``new_call AS (INSERT … ON CONFLICT DO
    NOTHING RETURNING id), the_call AS (new_call UNION ALL the logged row), link AS (INSERT
    INTO call_tickets …)[, recording AS (INSERT … ON CONFLICT (sid) DO UPDATE …)]``, and the
    call's id as the result's column: NULL when the call row is not visible yet."""
    from sqlalchemy.dialects.postgresql import insert

    calls, recordings = cast(Table, Call.__table__), cast(Table, Recording.__table__)
    call_values = {name: bindparam(f"call_{name}", type_=calls.c[name].type)
                   for name in call_row_values("", datetime.now(UTC), {})}  # fmt: skip
    new_call = (
        insert(calls).values(call_values).on_conflict_do_nothing().returning(calls.c.id)
    ).cte("new_call")
    existing = select(calls.c.id).where(calls.c.call_sid == bindparam("call_call_sid"))
    the_call = union_all(select(new_call.c.id), existing).cte("the_call")
    link = (
        insert(call_tickets)
        .from_select(["call_id", "ticket_id"], select(the_call.c.id, ticket.c.id))
        .on_conflict_do_nothing()
    ).cte("link")
    ctes = [new_call, the_call, link]
    if with_recording:
        sample = _recording_row("", 0, {"recording_sid": "-"}, datetime.now(UTC)) or {}
        columns = [name for name in sample if name != "ticket_id"]
        bound = [bindparam(f"rec_{name}", type_=recordings.c[name].type) for name in columns]
        upsert = insert(recordings).from_select(
            ["ticket_id", *columns], select(ticket.c.id, *bound)
        )
        keep = {name: upsert.excluded[name] for name in _RECORDING_KEEPS}
        recording = upsert.on_conflict_do_update(index_elements=["sid"], set_=keep)
        ctes.append(recording.cte("recording"))
    return ctes, [select(the_call.c.id).scalar_subquery()]


def request_ticket_sms(rt: Runtime, state: CallState, call: CallInfo) -> ActionOutput:
    """The caller wants their ticket number by SMS: the "received" message, in the outbox.

    One message per ticket whatever is replayed (its dedupe key); the notifications worker
    sends it, honouring opt-outs.
    """
    number = state.data.get("ticket_number")
    if call.caller is None or not number:
        return ActionOutput(ActionResult("no_number"), [])
    with rt.uow() as uow:
        ticket = uow.session.scalars(select(Ticket).where(Ticket.number == number)).first()
        if ticket is None or ticket.caller_phone is None:
            return ActionOutput(ActionResult("no_number"), [])
        queue_citizen_update(uow.session, ticket, TicketStatus.RECEIVED, requested=True)
        uow.commit()
    entry = LogEntry(call.call_sid, CallEventKind.SMS_REQUESTED, call.now, "request_sms", number,
                     dedupe_key=f"{call.call_sid}:sms_requested")  # fmt: skip
    return ActionOutput(ActionResult("ok"), [entry])


def lookup_status(rt: Runtime, state: CallState, call: CallInfo) -> ActionOutput:
    """Tell the status only to the number that filed it, or to whoever keys its citizen ID.

    A caller from another number is always asked for the citizen ID first — even when no such
    ticket exists — so the answer never reveals whether a number belongs to someone.
    """
    number = state.data.get("ticket_query", "")
    offered_id = state.data.get("verify_citizen_id")
    with rt.uow() as uow:
        ticket = _followed(
            uow, uow.session.scalars(select(Ticket).where(Ticket.number == number)).first()
        )
        own_number = (
            ticket is not None and call.caller is not None and ticket.caller_phone == call.caller
        )
        id_matches = ticket is not None and bool(offered_id) and ticket.citizen_id == offered_id
        if not own_number and not id_matches:
            result = "not_found" if offered_id else "need_citizen_id"
            return ActionOutput(ActionResult(result), [])
        assert ticket is not None  # noqa: S101 - implied by own_number or id_matches
        data = _status_vars(uow, ticket, rt)
    key = f"{call.call_sid}:status_heard:{ticket.number}"
    entry = LogEntry(call.call_sid, CallEventKind.STATUS_HEARD, call.now, "lookup_status",
                     ticket.number, dedupe_key=key)  # fmt: skip
    return ActionOutput(ActionResult("ok", data), [entry])


def _followed(uow: UnitOfWork, ticket: Ticket | None) -> Ticket | None:
    """A duplicate's caller hears the status of the ticket it was merged into."""
    if ticket is not None and ticket.merged_into_id is not None:
        return uow.session.get(Ticket, ticket.merged_into_id) or ticket
    return ticket


def _status_vars(uow: UnitOfWork, ticket: Ticket, rt: Runtime) -> dict[str, str]:
    last_change = uow.session.scalars(
        select(StatusChange.created_at)
        .where(StatusChange.ticket_id == ticket.id)
        .order_by(StatusChange.created_at.desc())
    ).first()
    when = (last_change or ticket.updated_at).astimezone(rt.settings.tz).date()
    return {
        "ticket_number": ticket.number,
        "ticket_digits": ticket_digits(ticket.number),
        "status_text": STATUS_TEXT[TicketStatus(ticket.status)].citizen_th,
        "status_date": thai_date(when, spoken=True),
    }


def lookup_center(rt: Runtime, state: CallState, call: CallInfo) -> ActionOutput:
    """The provincial Damrongdhamma Center responsible for a postal code."""
    province = state.data.get("province_code")
    with rt.uow() as uow:
        center = None
        if province:
            center = uow.session.scalars(
                select(Center).where(Center.kind == "province", Center.province_code == province)
            ).first()
        center = (
            center or uow.session.scalars(select(Center).where(Center.kind == "central")).first()
        )
        if center is None:
            raise TicketingError("no centers: run `hotline db upgrade`")
        place = _center_place(center.province_code)
        data = {"center_name": center.name_th, "center_place": place}
    return ActionOutput(ActionResult("ok", data), [])


def _center_place(province_code: str | None) -> str:
    if province_code is None:
        return "กระทรวงมหาดไทย"
    if province_code == "10":
        return "ศาลาว่าการกรุงเทพมหานคร"
    return f"ศาลากลางจังหวัด{PROVINCE_NAMES.get(province_code, '')}"


ACTIONS: dict[str, Action] = {
    "file_ticket": file_ticket,
    "request_ticket_sms": request_ticket_sms,
    "lookup_status": lookup_status,
    "lookup_center": lookup_center,
}
