"""Open311 GeoReport v2 at /open311/v2: services are the complaint categories, requests the tickets.

Complaints to the Damrongdhamma Centers are not public the way street reports are: every read
needs an ``api_key`` (an API token, ``hotline token create``) unless ``OPEN311_PUBLIC_READ`` is
on, and no document carries personal data. A request shows its number, category, status in the
center's words, the agency responsible and its dates; never a name, a phone number, a citizen ID,
the complaint's text, its address or a recording. XML (required by the spec) and JSON (the Spark
convention) come from one value; the XML is built with ElementTree, which escapes everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, cast
from xml.etree.ElementTree import Element, SubElement, tostring

from flask import Blueprint, Flask, Response, g, json, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException

from hotline.runtime import runtime
from ticketing.errors import TicketingError
from ticketing.filing import TicketDraft
from ticketing.locations import province_choices
from ticketing.models import Category, Referral, ReferralStatus, Role, Ticket
from ticketing.services import open_ticket
from ticketing.statuses import FINISHED, STATUS_TEXT, TicketStatus
from ticketing.tokens import TokenOwner, authenticate

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")
F = TypeVar("F", bound=Callable[..., Any])
FORMAT = "<any(xml, json):fmt>"
SPEC = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-24T00:00:00Z"
MAX_REQUESTS = 1000
MAX_RANGE = timedelta(days=90)
MAX_DESCRIPTION = 4000
CLOSED = frozenset(s.value for s in FINISHED)
# Spark convention: a list in JSON is a wrapper element of repeated children in XML.
XML_ITEMS = {"services": "service", "attributes": "attribute", "values": "value",
             "endpoints": "endpoint", "formats": "format", "service_requests": "request",
             "errors": "error"}  # fmt: skip
POST_FIELDS = {"api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string",
               "address_id", "email", "device_id", "account_id", "first_name", "last_name",
               "phone", "description", "media_url"}  # fmt: skip
GET_FIELDS = {"api_key", "jurisdiction_id", "service_request_id", "service_code", "start_date",
              "end_date", "status"}  # fmt: skip
SERVICE_NOTICE = "ศูนย์ดำรงธรรมรับเรื่องแล้ว ติดตามได้ที่สายด่วน 1567 ด้วยเลขที่เรื่องนี้"


class Open311Error(Exception):
    """An error in the spec's shape: HTTP 400 (bad request), 403 (api_key) or 404 (unknown)."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status, self.description = status, description


# Documents --------------------------------------------------------------------------------------


def render(value: Any, root: str, status: int = 200) -> Response:
    """One value, two formats: the suffix of the URL (``.xml`` / ``.json``) chooses."""
    if _format() == "json":
        body = json.dumps(value, ensure_ascii=False)
        return Response(body, status=status, mimetype="application/json")
    element = _element(root, value)
    xml = b'<?xml version="1.0" encoding="utf-8"?>' + tostring(element, encoding="unicode").encode()
    return Response(xml, status=status, content_type="text/xml; charset=utf-8")


def _element(tag: str, value: Any) -> Element:
    element = Element(tag)
    _fill(element, value)
    return element


def _fill(element: Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(SubElement(element, key), item)
    elif isinstance(value, list):
        child = XML_ITEMS[element.tag]
        for item in value:
            _fill(SubElement(element, child), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def _format() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if isinstance(fmt, str):
        return fmt
    return "json" if request.path.endswith(".json") else "xml"


def _errors(status: int, description: str) -> Response:
    return render([{"code": status, "description": description}], "errors", status)


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error) -> Response:
    return _errors(exc.status, exc.description)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 400
    return _errors(code if code in (403, 404, 405, 413) else 400, exc.description or exc.name)


# Keys -------------------------------------------------------------------------------------------


def key_required(scope: str, *, public_read: bool = False) -> Callable[[F], F]:
    """The api_key is an API token with ``scope``; reads may be opened by OPEN311_PUBLIC_READ."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.values.get("api_key", "").strip()
            if not key and public_read and runtime().settings.open311_public_read:
                g.open311_owner = None
                return view(*args, **kwargs)
            owner = authenticate(runtime().uow(), key) if key else None
            if owner is None or scope not in owner.scopes:
                raise Open311Error(403, "Invalid api_key received -- can't proceed.")
            g.open311_owner = owner
            return view(*args, **kwargs)

        wrapper.auth_scheme = "bearer"  # type: ignore[attr-defined]
        return cast(F, wrapper)

    return decorate


def _owner() -> TokenOwner | None:
    owner: TokenOwner | None = g.open311_owner
    return owner


def _public(view: F) -> F:
    view.auth_scheme = "public"  # type: ignore[attr-defined]
    return view


# Discovery and services -------------------------------------------------------------------------


@bp.get(f"/discovery.{FORMAT}")
@_public
def discovery(fmt: str) -> ResponseReturnValue:
    base = runtime().settings.public_base_url.rstrip("/") + bp.url_prefix  # type: ignore[operator]
    return render({
        "changeset": CHANGESET,
        "contact": "ศูนย์ดำรงธรรม สายด่วน 1567",
        "key_service": "Ask the Damrongdhamma Center's administrators for an API token.",
        "endpoints": [{"specification": SPEC, "url": base, "changeset": CHANGESET,
                       "type": "production", "formats": ["text/xml", "application/json"]}],
    }, "discovery")  # fmt: skip


@bp.get(f"/services.{FORMAT}")
@key_required("tickets:read", public_read=True)
def services(fmt: str) -> ResponseReturnValue:
    return render([_service(c) for c in _categories()], "services")


@bp.get(f"/services/<service_code>.{FORMAT}")
@key_required("tickets:read", public_read=True)
def service_definition(service_code: str, fmt: str) -> ResponseReturnValue:
    category = _category(service_code, status=404)
    provinces = [{"key": code, "name": name_th} for code, name_th, _ in province_choices()]
    attributes = [
        {"variable": True, "code": "province_code", "datatype": "singlevaluelist",
         "required": False, "datatype_description": "the province where it happened",
         "order": 1, "description": "จังหวัดที่เกิดเหตุ", "values": provinces},
        {"variable": True, "code": "postal_code", "datatype": "string", "required": False,
         "datatype_description": "five digits", "order": 2, "description": "รหัสไปรษณีย์"},
    ]  # fmt: skip
    return render({"service_code": category.code, "attributes": attributes}, "service_definition")


def _service(category: Category) -> dict[str, Any]:
    return {"service_code": category.code, "service_name": category.name_th,
            "description": category.name_en, "metadata": True, "type": "realtime",
            "keywords": category.name_en, "group": "ร้องเรียน"}  # fmt: skip


def _categories() -> list[Category]:
    with runtime().uow() as uow:
        query = select(Category).where(Category.is_active).order_by(Category.sort_order)
        return list(uow.session.scalars(query))


def _category(code: str, status: int) -> Category:
    found = next((c for c in _categories() if c.code == code), None)
    if found is None:
        raise Open311Error(status, f"unknown service_code {code!r}")
    return found


# Requests ---------------------------------------------------------------------------------------


@bp.get(f"/requests.{FORMAT}")
@key_required("tickets:read", public_read=True)
def list_requests(fmt: str) -> ResponseReturnValue:
    _known(request.args, GET_FIELDS)
    query = _visible()
    if ids := _csv("service_request_id"):
        query = query.where(Ticket.number.in_(ids))  # the spec: ids override every other filter
    else:
        query = _filtered(query)
    with runtime().uow() as uow:
        tickets = list(uow.session.scalars(
            query.order_by(Ticket.created_at.desc()).limit(MAX_REQUESTS)
        ))  # fmt: skip
        agencies = _agencies_responsible(uow.session, tickets)
    return render([request_document(t, agencies.get(t.id)) for t in tickets], "service_requests")


@bp.get(f"/requests/<service_request_id>.{FORMAT}")
@key_required("tickets:read", public_read=True)
def get_request(service_request_id: str, fmt: str) -> ResponseReturnValue:
    with runtime().uow() as uow:
        ticket = uow.session.scalars(_visible().where(Ticket.number == service_request_id)).first()
        if ticket is None:
            raise Open311Error(404, f"unknown service_request_id {service_request_id!r}")
        agencies = _agencies_responsible(uow.session, [ticket])
    return render([request_document(ticket, agencies.get(ticket.id))], "service_requests")


@bp.post(f"/requests.{FORMAT}")
@key_required("tickets:write")
def create_request(fmt: str) -> ResponseReturnValue:
    """A complaint filed through Open311: the service request id (ticket number) comes back."""
    owner = _owner()
    assert owner is not None  # noqa: S101 - key_required without public_read always sets one
    if owner.actor.role == Role.AGENCY:
        raise Open311Error(403, "agency keys may read only; filing is for the center's partners")
    draft = _draft(request.form)
    try:
        ticket = open_ticket(runtime().uow(), draft, owner.actor, tz=runtime().settings.tz)
    except TicketingError as exc:
        field = f" ({exc.field})" if exc.field else ""
        raise Open311Error(400, f"{exc.message}{field}") from None
    answer = [{"service_request_id": ticket.number, "service_notice": SERVICE_NOTICE}]
    return render(answer, "service_requests", 201)


@bp.get(f"/tokens/<token>.{FORMAT}")
@key_required("tickets:read", public_read=True)
def token(token: str, fmt: str) -> ResponseReturnValue:
    """Our services are realtime (POST answers with the id), so no token is ever issued."""
    raise Open311Error(404, f"unknown token {token[:40]!r}: requests here get their id at once")


def request_document(ticket: Ticket, agency: str | None) -> dict[str, Any]:
    """A ticket as Open311 shows it: no personal data, only what the category and status say."""
    status = TicketStatus(ticket.status)
    return {
        "service_request_id": ticket.number,
        "status": "closed" if ticket.status in CLOSED else "open",
        "status_notes": STATUS_TEXT[status].citizen_th,
        "service_name": ticket.category.name_th,
        "service_code": ticket.category.code,
        "agency_responsible": agency or ticket.center.name_th,
        "requested_datetime": _w3c(ticket.created_at),
        "updated_datetime": _w3c(ticket.closed_at or ticket.updated_at),
        "expected_datetime": _w3c(ticket.due_at) if ticket.due_at else None,
    }


def _w3c(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _visible() -> Select[Ticket]:
    owner = _owner()
    query = (
        select(Ticket)
        .options(joinedload(Ticket.category), joinedload(Ticket.center))
        .where(Ticket.is_training.is_(False))
    )
    if owner is not None and owner.actor.role == Role.AGENCY:
        referred = select(Referral.ticket_id).where(Referral.agency_id == owner.actor.agency_id)
        query = query.where(Ticket.id.in_(referred))
    return query


def _filtered(query: Select[Ticket]) -> Select[Ticket]:
    if codes := _csv("service_code"):
        query = query.join(Category, Category.id == Ticket.category_id).where(
            Category.code.in_(codes)
        )
    end = _date_arg("end_date") or runtime().clock()
    start = _date_arg("start_date") or end - MAX_RANGE
    if end - start > MAX_RANGE or start > end:
        raise Open311Error(400, "start_date and end_date must span at most 90 days, in order")
    query = query.where(Ticket.created_at >= start, Ticket.created_at <= end)
    if statuses := _csv("status"):
        if not set(statuses) <= {"open", "closed"}:
            raise Open311Error(400, "status must be open or closed")
        if statuses == ["open"]:
            query = query.where(Ticket.status.notin_(CLOSED))
        elif statuses == ["closed"]:
            query = query.where(Ticket.status.in_(CLOSED))
    return query


def _agencies_responsible(session: Any, tickets: list[Ticket]) -> dict[int, str]:
    """ticket id → the agencies it is referred to and not sent back, in Thai."""
    if not tickets:
        return {}
    rows = session.execute(
        select(Referral.ticket_id, Referral)
        .options(joinedload(Referral.agency))
        .where(Referral.ticket_id.in_([t.id for t in tickets]),
               Referral.status != ReferralStatus.RETURNED.value)
        .order_by(Referral.id)
    ).all()  # fmt: skip
    names: dict[int, list[str]] = {}
    for ticket_id, referral in rows:
        names.setdefault(ticket_id, []).append(referral.agency.name_th)
    return {ticket_id: ", ".join(dict.fromkeys(found)) for ticket_id, found in names.items()}


# Input ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Where:
    text: str
    province_code: str | None
    postal_code: str | None


def _draft(form: Any) -> TicketDraft:
    attributes = {k[len("attribute[") : -1]: v for k, v in form.items()
                  if k.startswith("attribute[") and k.endswith("]")}  # fmt: skip
    _known({k for k in form if not k.startswith("attribute[")}, POST_FIELDS)
    _known(set(attributes), {"province_code", "postal_code"}, "attribute")
    code = form.get("service_code", "").strip()
    if not code:
        raise Open311Error(400, "service_code is required")
    _category(code, status=400)
    where = _where(form, attributes)
    description = form.get("description", "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description: at most {MAX_DESCRIPTION} characters")
    if "<" in description:
        raise Open311Error(400, "description: plain text only, no HTML")
    name = " ".join(p for p in (form.get("first_name", "").strip(),
                                form.get("last_name", "").strip()) if p)  # fmt: skip
    return TicketDraft(
        channel="api",
        category_code=code,
        description="\n".join(p for p in (description, where.text) if p),
        caller_phone=form.get("phone", "").strip() or None,
        citizen_name=name or None,
        province_code=where.province_code,
        postal_code=where.postal_code,
    )


def _where(form: Any, attributes: dict[str, str]) -> _Where:
    """The spec's location (lat+long, address_string or address_id) is kept with the text."""
    lat, long = form.get("lat", "").strip(), form.get("long", "").strip()
    if bool(lat) != bool(long):
        raise Open311Error(400, "lat and long go together")
    if lat:
        try:
            if not (-90 <= float(lat) <= 90 and -180 <= float(long) <= 180):
                raise ValueError
        except ValueError:
            raise Open311Error(400, "lat and long must be WGS84 degrees") from None
    parts = [f"พิกัด {lat},{long}" if lat else "",
             f"สถานที่ {form.get('address_string', '').strip()}"
             if form.get("address_string", "").strip() else "",
             f"รหัสสถานที่ {form.get('address_id', '').strip()}"
             if form.get("address_id", "").strip() else ""]  # fmt: skip
    if not any(parts):
        raise Open311Error(
            400, "a location is required: lat and long, address_string or address_id"
        )
    return _Where(
        text="\n".join(p for p in parts if p),
        province_code=attributes.get("province_code", "").strip() or None,
        postal_code=attributes.get("postal_code", "").strip() or None,
    )


def _known(keys: Iterable[str], allowed: set[str], what: str = "parameter") -> None:
    unknown = sorted(set(keys) - allowed)
    if unknown:
        raise Open311Error(400, f"unknown {what} {unknown[0][:60]!r}")


def _csv(name: str) -> list[str]:
    return [p.strip() for p in request.args.get(name, "").split(",") if p.strip()]


def _date_arg(name: str) -> datetime | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None  # the spec: an empty optional argument is an absent one
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise Open311Error(400, f"{name} must be a W3C date-time with a time zone") from None
    if value.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone (Z or +07:00)")
    return value


def _not_found_here(exc: HTTPException) -> ResponseReturnValue:
    """Unknown URLs and methods under /open311/ answer in the spec's shape too."""
    if request.path.startswith(bp.url_prefix or "/open311"):
        return _errors(exc.code or 404, exc.description or "unknown resource")
    return exc


def init_open311(app: Flask) -> None:
    app.register_blueprint(bp)
    app.register_error_handler(404, _not_found_here)
    app.register_error_handler(405, _not_found_here)
