"""What the IVR asks the application to check and do: validators and actions.

The engine (ivr_flows) decides; this module touches the domain. Every action is idempotent per
call: filing twice finds the first ticket (``external_ref``), asking twice for an SMS finds the
first message (``dedupe_key``), and lookups only read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property

from sqlalchemy import select

from hotline.calls.filing import CallFiling
from hotline.calls.kinds import CallEventKind
from hotline.calls.log import LogEntry
from hotline.runtime import Runtime
from ivr_flows.engine import ActionResult, CallState, Option, Validation
from ivr_flows.thai import spoken_digits, thai_date
from ticketing.citizen_id import normalize_citizen_id
from ticketing.db.uow import UnitOfWork
from ticketing.errors import TicketingError, ValidationError
from ticketing.filing_at_once import FiledTicket
from ticketing.locations import DistrictCandidate, districts_for_postal_code, province_choices
from ticketing.models import Center, StatusChange, Ticket
from ticketing.notify import queue_citizen_update
from ticketing.numbers import parse_ticket_number
from ticketing.phones import normalize_phone, parse_phone_strict
from ticketing.statuses import STATUS_TEXT, TicketStatus

log = logging.getLogger(__name__)
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
    """A postal code and every district it covers, each named with its province.

    Every location key is set, empty where the code alone does not tell (a code spanning
    provinces has no province until the caller picks a district): a corrected code must not
    keep the first code's province or district.
    """
    try:
        candidates = districts_for_postal_code(digits)
    except ValidationError:
        return Validation(False)
    if not candidates:
        return Validation(False)
    provinces = {c.province_code for c in candidates}
    common = {"postal_code": digits, "postal_place": "", "district_code": "",
              "province_code": provinces.pop() if len(provinces) == 1 else ""}  # fmt: skip
    options = tuple(_district_option(c) for c in candidates)
    return Validation(True, digits, common, options)


def _district_option(found: DistrictCandidate) -> Option:
    place = (f"{_district_label(found.district_name_th)} "
             f"{_province_label(found.province_code, found.province_name_th)}")  # fmt: skip
    return Option(place, {"postal_place": place, "district_code": found.district_code,
                          "province_code": found.province_code})  # fmt: skip


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
    """A ticket number as the caller hears it: 3-3-4 like a phone number, with pauses (a longer
    number puts its extra digits in the last group)."""
    return _grouped(number, (3, 3, len(number) - 6))


# Actions ----------------------------------------------------------------------------------


def file_ticket(rt: Runtime, state: CallState, call: CallInfo) -> ActionOutput:
    """File the complaint the caller just described (once per call, whatever is replayed)."""
    ticket = file_complaint(rt, call, state.data)
    data = {"ticket_number": ticket.number, "ticket_digits": ticket_digits(ticket.number)}
    return ActionOutput(ActionResult("ok", data), [filed_entry(call, ticket.number)])


LOCATION_KEYS = ("province_code", "district_code", "subdistrict_code", "postal_code")
LOCATION_UNKNOWN = "ยังไม่ทราบพื้นที่เกิดเหตุ: เจ้าหน้าที่กรุณาสอบถามผู้แจ้งและระบุพื้นที่"


def complaint_data(data: Mapping[str, str]) -> dict[str, str]:
    """The IVR's data as a complaint to file: a place the caller did not finish giving (no
    province, or "don't know") is left out and flagged in the description for an agent."""
    cleaned = {k: v for k, v in data.items() if v or k not in LOCATION_KEYS}
    unknown = data.get("postal_code_unknown") == "1" or not data.get("district_code")
    if not cleaned.get("province_code"):
        for key in LOCATION_KEYS:
            cleaned.pop(key, None)
    if unknown and not cleaned.get("description"):
        keyed = data.get("postal_code")
        cleaned["description"] = LOCATION_UNKNOWN + (f" (รหัสไปรษณีย์ {keyed})" if keyed else "")
    return cleaned


def file_complaint(rt: Runtime, call: CallInfo, data: Mapping[str, str]) -> FiledTicket:
    """File the caller's complaint whatever in it is refused: a recorded complaint is never
    lost. A place the reference data refuses is dropped and flagged, then the citizen ID, then
    the category; each try is its own transaction, so a refused one leaves nothing behind."""
    tries = [complaint_data(data)]
    without_place = {k: v for k, v in tries[0].items() if k not in LOCATION_KEYS}
    without_place.setdefault("description", LOCATION_UNKNOWN)
    tries.append(without_place)
    tries.append({k: v for k, v in without_place.items() if k != "citizen_id"})
    tries.append({**tries[-1], "category": "other"})
    for attempt, values in enumerate(tries):
        filing = CallFiling(call.call_sid, call.caller, values, call.now)
        try:
            return rt.call_tickets.file_for_call(filing, look_first=attempt > 0)
        except ValidationError as exc:
            if attempt == len(tries) - 1:
                raise
            log.warning("filing call %s again without what was refused: %s", call.call_sid, exc)
    raise AssertionError("unreachable")  # pragma: no cover


def filed_entry(call: CallInfo, number: str) -> LogEntry:
    """The call log's "ticket filed" event: one per call, whichever path filed it."""
    key = f"{call.call_sid}:ticket_filed"
    return LogEntry(
        call.call_sid, CallEventKind.TICKET_FILED, call.now, "file_ticket", number, dedupe_key=key
    )


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
