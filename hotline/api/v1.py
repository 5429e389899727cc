"""REST API v1: tickets from other channels, their status and notes, reference data.

Bearer tokens (``hotline token create``), scoped; an agency's token sees only tickets referred
to that agency. Every error is JSON ``{"error": {"code", "message", "field"}}`` with a 4xx, and
bad input writes nothing (the services validate before they write). Lists are cursor-paginated
(newest first), so pages stay stable while tickets keep arriving.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, Flask, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException

from hotline.api.openapi import OPENAPI
from hotline.calls.kinds import CallEventKind
from hotline.calls.models import Call, CallEvent, call_tickets
from hotline.runtime import runtime
from ticketing import referrals
from ticketing.citizen_id import mask_citizen_id
from ticketing.deadlines import is_overdue, overdue_referrals
from ticketing.errors import NotFoundError, PermissionDeniedError, TicketingError
from ticketing.filing import TicketDraft
from ticketing.models import Agency, Category, Referral, ReferralStatus, Role, Ticket
from ticketing.numbers import parse_ticket_number
from ticketing.permissions import Action, can
from ticketing.phones import mask_phone
from ticketing.services import add_note, change_status, open_ticket
from ticketing.statuses import STATUS_TEXT, TicketStatus
from ticketing.tokens import TokenOwner, authenticate

bp = Blueprint("api", __name__, url_prefix="/api/v1")
F = TypeVar("F", bound=Callable[..., Any])
R = TypeVar("R")
MAX_LIMIT = 100
MAX_ID = 2**31 - 1
API_CHANNELS = ("walk_in", "letter", "web", "api")
TICKET_FIELDS = {
    "channel", "category", "description", "caller_phone", "citizen_id", "citizen_name",
    "province_code", "district_code", "subdistrict_code", "postal_code", "priority",
}  # fmt: skip


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error(status: int, code: str, message: str, field: str | None = None) -> ResponseReturnValue:
    return jsonify(error={"code": code, "message": message, "field": field}), status


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> ResponseReturnValue:
    return error(exc.status, exc.code, exc.message, exc.field)


@bp.errorhandler(TicketingError)
def _domain_error(exc: TicketingError) -> ResponseReturnValue:
    status = {NotFoundError: 404, PermissionDeniedError: 403}.get(type(exc), 422)
    return error(status, exc.code, exc.message, exc.field)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    return error(
        exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or ""
    )


def token_required(*scopes: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            secret = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
            owner = authenticate(runtime().uow(), secret) if secret else None
            if owner is None:
                raise ApiError(401, "unauthorized", "a valid bearer token is required")
            missing = set(scopes) - owner.scopes
            if missing:
                raise ApiError(403, "forbidden", f"the token lacks the scope {sorted(missing)[0]}")
            g.api_owner = owner
            return view(*args, **kwargs)

        wrapper.auth_scheme = "bearer"  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def _owner() -> TokenOwner:
    owner: TokenOwner = g.api_owner
    return owner


# Reference data ---------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> ResponseReturnValue:
    return jsonify(OPENAPI)


openapi.auth_scheme = "public"  # type: ignore[attr-defined]


@bp.get("/categories")
@token_required("reference:read")
def categories() -> ResponseReturnValue:
    with runtime().uow() as uow:
        rows = uow.session.scalars(
            select(Category).where(Category.is_active).order_by(Category.sort_order)
        )
        data = [{"code": c.code, "name_th": c.name_th, "name_en": c.name_en, "sla_days": c.sla_days}
                for c in rows]  # fmt: skip
    return jsonify(data=data)


@bp.get("/agencies")
@token_required("reference:read")
def agencies() -> ResponseReturnValue:
    with runtime().uow() as uow:
        rows = uow.session.scalars(select(Agency).where(Agency.is_active).order_by(Agency.code))
        data = [{"code": a.code, "name_th": a.name_th, "name_en": a.name_en, "scope": a.scope,
                 "province_code": a.province_code} for a in rows]  # fmt: skip
    return jsonify(data=data)


# Tickets ----------------------------------------------------------------------------------------


@bp.get("/tickets")
@token_required("tickets:read")
def list_tickets() -> ResponseReturnValue:
    limit = _int_arg("limit", 20, 1, MAX_LIMIT)
    query = _visible(select(Ticket).options(joinedload(Ticket.category)))
    query = _filtered(query)
    with runtime().uow() as uow:
        rows = list(uow.session.scalars(_keyset(query, Ticket.id, "t", limit)))
    page, next_cursor = _page(rows, limit, "t", lambda ticket: ticket.id)
    return jsonify(data=[ticket_json(t) for t in page], next_cursor=next_cursor)


@bp.get("/tickets/<number>")
@token_required("tickets:read")
def get_ticket(number: str) -> ResponseReturnValue:
    return jsonify(data=ticket_json(_ticket(number)))


@bp.post("/tickets")
@token_required("tickets:write")
def create_ticket() -> ResponseReturnValue:
    body = _json_object(TICKET_FIELDS, required={"channel", "category", "description"})
    if body["channel"] not in API_CHANNELS:
        raise ApiError(
            400, "invalid", f"channel must be one of {', '.join(API_CHANNELS)}", "channel"
        )
    draft = TicketDraft(category_code=body.pop("category"), **body)
    ticket = open_ticket(runtime().uow(), draft, _staff_actor(), tz=runtime().settings.tz)
    return jsonify(data=ticket_json(_ticket(ticket.number))), 201


@bp.post("/tickets/<number>/status")
@token_required("tickets:write")
def set_status(number: str) -> ResponseReturnValue:
    body = _json_object({"status", "reason"}, required={"status"})
    ticket = _ticket(number)
    change_status(
        runtime().uow(), ticket.id, body["status"], _staff_actor(), reason=body.get("reason", "")
    )
    return jsonify(data=ticket_json(_ticket(number)))


@bp.post("/tickets/<number>/notes")
@token_required("tickets:write")
def post_note(number: str) -> ResponseReturnValue:
    body = _json_object({"body", "public"}, required={"body"})
    if not isinstance(body.get("public", False), bool):
        raise ApiError(400, "invalid", "public must be true or false", "public")
    ticket = _ticket(number)
    note = add_note(
        runtime().uow(),
        ticket.id,
        body["body"],
        _owner().actor,
        is_public=body.get("public", False),
    )
    return jsonify(data={"id": note.id, "body": note.body, "public": note.is_public,
                         "created_at": _iso(note.created_at)}), 201  # fmt: skip


# Calls ------------------------------------------------------------------------------------------

CALL_PARAMS = {"outcome", "ticket", "since", "until", "cursor", "limit"}


@bp.get("/calls")
@token_required("calls:read")
def list_calls() -> ResponseReturnValue:
    """Calls, newest first: outcome, times, the IVR path and the linked tickets."""
    _staff_actor()
    _known_params(CALL_PARAMS)
    limit = _int_arg("limit", 20, 1, MAX_LIMIT)
    query = select(Call).where(Call.is_training.is_(False))
    if outcome := request.args.get("outcome"):
        query = query.where(Call.outcome == outcome)
    if number := request.args.get("ticket"):
        linked = select(call_tickets.c.call_id).where(
            call_tickets.c.ticket_id == _ticket(number).id
        )
        query = query.where(Call.id.in_(linked))
    for name, op in (("since", "ge"), ("until", "lt")):
        if value := request.args.get(name):
            moment = _datetime_arg(name, value)
            query = query.where(
                Call.started_at >= moment if op == "ge" else Call.started_at < moment
            )
    with runtime().uow() as uow:
        rows = list(uow.session.scalars(_keyset(query, Call.id, "c", limit)))
        page, next_cursor = _page(rows, limit, "c", lambda call: call.id)
        data = _calls_json(uow.session, page)
    return jsonify(data=data, next_cursor=next_cursor)


@bp.get("/calls/<call_sid>")
@token_required("calls:read")
def get_call(call_sid: str) -> ResponseReturnValue:
    _staff_actor()
    with runtime().uow() as uow:
        call = uow.session.scalars(
            select(Call).where(Call.call_sid == call_sid, Call.is_training.is_(False))
        ).first()
        if call is None:
            raise ApiError(404, "not_found", f"no call {call_sid!r}", "call_sid")
        [data] = _calls_json(uow.session, [call])
    return jsonify(data=data)


def _calls_json(session: Any, calls: list[Call]) -> list[dict[str, Any]]:
    """Calls with their IVR paths and ticket numbers, in two queries for the whole page."""
    ids = [c.id for c in calls]
    paths: dict[int, list[str]] = {i: [] for i in ids}
    numbers: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for call_id, node in session.execute(
            select(CallEvent.call_id, CallEvent.node)
            .where(CallEvent.call_id.in_(ids), CallEvent.kind == CallEventKind.IVR_ENTER.value)
            .order_by(CallEvent.at, CallEvent.id)
        ):
            if node:
                paths[call_id].append(node)
        for call_id, number in session.execute(
            select(call_tickets.c.call_id, Ticket.number)
            .join(Ticket, Ticket.id == call_tickets.c.ticket_id)
            .where(call_tickets.c.call_id.in_(ids))
        ):
            numbers[call_id].append(number)
    whole = can(_owner().actor, Action.VIEW_CALLER_NUMBER)
    return [_call_json(c, paths[c.id], sorted(numbers[c.id]), whole) for c in calls]


def _call_json(call: Call, path: list[str], tickets: list[str], whole: bool) -> dict[str, Any]:
    return {
        "call_sid": call.call_sid,
        "direction": call.direction,
        "twilio_status": call.twilio_status,
        "outcome": call.outcome,
        "caller_masked": mask_phone(call.from_number) if call.from_number else None,
        "caller": call.from_number if whole else None,
        "started_at": _iso(call.started_at),
        "answered_at": _iso(call.answered_at),
        "ended_at": _iso(call.ended_at),
        "duration_s": call.duration_s,
        "queue_wait_s": call.queue_wait_s,
        "last_node": call.last_node,
        "ivr_path": path,
        "tickets": tickets,
    }


# Referrals --------------------------------------------------------------------------------------

REFERRAL_PARAMS = {"status", "overdue", "cursor", "limit"}


@bp.get("/referrals")
@token_required("referrals:read")
def list_referrals() -> ResponseReturnValue:
    """Referrals, newest first; an agency's token sees only its own."""
    _known_params(REFERRAL_PARAMS)
    limit = _int_arg("limit", 20, 1, MAX_LIMIT)
    query = _visible_referrals()
    if status := request.args.get("status"):
        if status not in {s.value for s in ReferralStatus}:
            raise ApiError(400, "invalid", f"unknown status {status!r}", "status")
        query = query.where(Referral.status == status)
    if (flag := request.args.get("overdue")) is not None:
        if flag not in ("true", "false"):
            raise ApiError(400, "invalid", "overdue must be true or false", "overdue")
        late = overdue_referrals(runtime().clock())
        query = query.where(late if flag == "true" else ~late)
    with runtime().uow() as uow:
        rows = list(uow.session.execute(_keyset(query, Referral.id, "r", limit)))
    page, next_cursor = _page(rows, limit, "r", lambda row: row[0].id)
    return jsonify(data=[referral_json(r, t) for r, t in page], next_cursor=next_cursor)


@bp.get("/referrals/<int:referral_id>")
@token_required("referrals:read")
def get_referral(referral_id: int) -> ResponseReturnValue:
    return jsonify(data=referral_json(*_referral(referral_id)))


@bp.post("/referrals/<int:referral_id>/progress")
@token_required("referrals:write")
def referral_progress(referral_id: int) -> ResponseReturnValue:
    return _act_on_referral(referral_id, referrals.post_progress, "text")


@bp.post("/referrals/<int:referral_id>/answer")
@token_required("referrals:write")
def referral_answer(referral_id: int) -> ResponseReturnValue:
    return _act_on_referral(referral_id, referrals.answer, "text")


@bp.post("/referrals/<int:referral_id>/send-back")
@token_required("referrals:write")
def referral_send_back(referral_id: int) -> ResponseReturnValue:
    return _act_on_referral(referral_id, referrals.send_back, "reason")


def _act_on_referral(
    referral_id: int, service: Callable[..., Referral], field: str
) -> ResponseReturnValue:
    """Check the body, then let ticketing.referrals validate, write and audit in one go."""
    body = _json_object({field}, required={field})
    _referral(referral_id)  # another agency's referral is a 404, like an unknown one
    service(runtime().uow(), referral_id, body[field], _owner().actor)
    return jsonify(data=referral_json(*_referral(referral_id)))


def _visible_referrals() -> Select[Referral, Ticket]:
    actor = _owner().actor
    query = (
        select(Referral, Ticket)
        .join(Ticket, Ticket.id == Referral.ticket_id)
        .options(joinedload(Referral.agency), joinedload(Ticket.category))
        .where(Ticket.is_training.is_(False))
    )
    if actor.role == Role.AGENCY:
        query = query.where(Referral.agency_id == actor.agency_id)
    return query


def _referral(referral_id: int) -> tuple[Referral, Ticket]:
    if referral_id > MAX_ID:  # beyond any id the database can hold
        raise ApiError(404, "not_found", f"no referral {referral_id}", "referral_id")
    with runtime().uow() as uow:
        row = uow.session.execute(_visible_referrals().where(Referral.id == referral_id)).first()
    if row is None:
        raise ApiError(404, "not_found", f"no referral {referral_id}", "referral_id")
    return row[0], row[1]


def referral_json(referral: Referral, ticket: Ticket) -> dict[str, Any]:
    """A referral as the API shows it: what the agency must act on, no personal data."""
    return {
        "id": referral.id,
        "ticket": ticket.number,
        "ticket_status": ticket.status,
        "category": ticket.category.code,
        "agency": referral.agency.code,
        "agency_name_th": referral.agency.name_th,
        "status": referral.status,
        "sent_at": _iso(referral.sent_at),
        "due_at": _iso(referral.due_at),
        "answered_at": _iso(referral.answered_at),
        "response": referral.response,
        "overdue": is_overdue(referral, runtime().clock()),
    }


# Helpers ----------------------------------------------------------------------------------------


def ticket_json(ticket: Ticket) -> dict[str, Any]:
    """A ticket as the API shows it: personal data masked (PDPA), dates in ISO 8601 UTC."""
    return {
        "number": ticket.number,
        "channel": ticket.channel,
        "category": ticket.category.code,
        "status": ticket.status,
        "status_text_th": STATUS_TEXT[TicketStatus(ticket.status)].citizen_th,
        "priority": ticket.priority,
        "description": ticket.description,
        "caller_phone_masked": mask_phone(ticket.caller_phone) if ticket.caller_phone else None,
        "citizen_id_masked": mask_citizen_id(ticket.citizen_id) if ticket.citizen_id else None,
        "province_code": ticket.province_code,
        "district_code": ticket.district_code,
        "subdistrict_code": ticket.subdistrict_code,
        "postal_code": ticket.postal_code,
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "due_at": _iso(ticket.due_at),
        "overdue": is_overdue(ticket, runtime().clock()),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _staff_actor() -> Any:
    actor = _owner().actor
    if actor.role == Role.AGENCY:
        raise ApiError(403, "forbidden", "agency tokens may not do this; it is for center staff")
    return actor


def _visible(query: Select[Ticket]) -> Select[Ticket]:
    actor = _owner().actor
    query = query.where(Ticket.is_training.is_(False))
    if actor.role == Role.AGENCY:
        referred = select(Referral.ticket_id).where(Referral.agency_id == actor.agency_id)
        query = query.where(Ticket.id.in_(referred))
    return query


def _known_params(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise ApiError(400, "invalid", f"unknown parameter {unknown[0]!r}", unknown[0])


def _filtered(query: Select[Ticket]) -> Select[Ticket]:
    args = request.args
    _known_params({"status", "category", "province", "since", "until", "cursor", "limit"})
    if status := args.get("status"):
        if status not in {s.value for s in TicketStatus}:
            raise ApiError(400, "invalid", f"unknown status {status!r}", "status")
        query = query.where(Ticket.status == status)
    if category := args.get("category"):
        query = query.join(Category, Category.id == Ticket.category_id).where(
            Category.code == category
        )
    if province := args.get("province"):
        query = query.where(Ticket.province_code == province)
    for name, op in (("since", "ge"), ("until", "lt")):
        if value := args.get(name):
            moment = _datetime_arg(name, value)
            query = query.where(
                Ticket.created_at >= moment if op == "ge" else Ticket.created_at < moment
            )
    return query


def _ticket(number: str) -> Ticket:
    try:
        digits = parse_ticket_number(number).digits
    except TicketingError:
        raise ApiError(404, "not_found", f"no ticket {number!r}", "number") from None
    query = _visible(select(Ticket).options(joinedload(Ticket.category))).where(
        Ticket.number == digits
    )
    with runtime().uow() as uow:
        ticket = uow.session.scalars(query).first()
    if ticket is None:
        raise ApiError(404, "not_found", f"no ticket {number!r}", "number")
    return ticket


def _json_object(allowed: set[str], required: set[str]) -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "malformed", "the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "invalid", f"unknown field {unknown[0]!r}", unknown[0])
    missing = sorted(key for key in required if body.get(key) in (None, ""))
    if missing:
        raise ApiError(400, "invalid", f"{missing[0]} is required", missing[0])
    for key, value in body.items():
        if value is not None and not isinstance(value, str) and key != "public":
            raise ApiError(400, "invalid", f"{key} must be a string", key)
    return dict(body)


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, "invalid", f"{name} must be a whole number from {low} to {high}", name)
    return int(raw)


def _datetime_arg(name: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "invalid", f"{name} must be an ISO 8601 time", name) from None
    if value.tzinfo is None:
        raise ApiError(400, "invalid", f"{name} needs a time zone (Z or +07:00)", name)
    return value


def _keyset(query: Any, id_column: Any, kind: str, limit: int) -> Any:
    """The query's next page, newest first: after the request's cursor, one row more than
    ``limit`` to know whether another page follows."""
    before = _cursor(kind)
    if before is not None:
        query = query.where(id_column < before)
    return query.order_by(id_column.desc()).limit(limit + 1)


def _page(
    rows: list[R], limit: int, kind: str, id_of: Callable[[R], int]
) -> tuple[list[R], str | None]:
    """The page's rows and the cursor of the next page (None on the last)."""
    page, more = rows[:limit], len(rows) > limit
    return page, (_encode_cursor(id_of(page[-1]), kind) if more and page else None)


def _encode_cursor(row_id: int, kind: str = "t") -> str:
    """An opaque cursor: the last id seen, tagged with the kind of list (t, c, r)."""
    return base64.urlsafe_b64encode(f"{kind}{row_id}".encode()).decode().rstrip("=")


def _cursor(kind: str = "t") -> int | None:
    raw = request.args.get("cursor")
    if raw is None:
        return None
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
    except (binascii.Error, ValueError):  # not base64, not ASCII, not UTF-8
        text = ""
    if not text.startswith(kind) or not text[1:].isdecimal():
        raise ApiError(400, "invalid", "unknown cursor", "cursor")
    return int(text[1:])


def init_api(app: Flask) -> None:
    app.register_blueprint(bp)
