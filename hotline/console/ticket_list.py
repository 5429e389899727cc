"""The console's ticket list at /console/tickets: filters, Thai search, keyset pages.

Every filter lives in the query string, so a filtered view can be bookmarked or shared. Bad
filters get a 400 page that says which one and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache
from typing import Literal
from urllib.parse import urlencode

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from hotline.auth import current_actor, roles_required
from hotline.runtime import runtime
from ticketing.citizen_id import mask_citizen_id
from ticketing.errors import ValidationError
from ticketing.listing import (
    UNASSIGNED,
    Cursor,
    Sort,
    TicketFilter,
    TicketPage,
    list_tickets,
    statuses_from,
)
from ticketing.locations import province_choices
from ticketing.models import Category, User
from ticketing.permissions import STAFF
from ticketing.search import MIN_TERM_LENGTH, search_terms, short_terms
from ticketing.statuses import TicketStatus

bp = Blueprint("ticket_list", __name__, url_prefix="/console/tickets")
FILTER_KEYS = ("q", "status", "category", "province", "from", "to", "assignee", "overdue", "sort")


@dataclass(frozen=True, slots=True)
class ListRequest:
    filters: TicketFilter
    sort: Sort
    after: Cursor | None


class BadFilterError(ValidationError):
    """A query-string value the list cannot use; the message is for the agent."""


@bp.get("", endpoint="index")
@roles_required(*STAFF)
def ticket_list() -> ResponseReturnValue:
    args = request.args
    categories = _categories()
    try:
        wanted = _parse_list_request(args, categories)
    except BadFilterError as exc:
        return _render_list(args, categories, TicketPage([], None), error=exc.message, status=400)
    rt = runtime()
    with rt.uow() as uow:
        page = list_tickets(
            uow.session, wanted.filters, sort=wanted.sort, after=wanted.after,
            now=rt.clock(), tz=rt.settings.tz,
        )  # fmt: skip
    return _render_list(args, categories, page)


def _render_list(
    args: MultiDict[str, str],
    categories: list[Category],
    page: TicketPage,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    kept = [(key, value) for key in FILTER_KEYS for value in args.getlist(key) if value]
    next_url = None
    if page.next_cursor is not None:
        next_url = "?" + urlencode([*kept, ("after", page.next_cursor.encode())])
    body = render_template(
        "console/tickets.html",
        page=page,
        args=args,
        error=error,
        categories=categories,
        provinces=_provinces(),
        statuses=list(TicketStatus),
        assignees=_assignees(),
        sorts=list(Sort),
        next_url=next_url,
        first_url="?" + urlencode(kept),
        filtered=bool(kept),
        mask_citizen_id=mask_citizen_id,
    )
    return Response(body, status=status)


def _parse_list_request(args: MultiDict[str, str], categories: list[Category]) -> ListRequest:
    """Raises BadFilterError with a Thai message naming the filter."""
    created_from, created_to = _day(args, "from"), _day(args, "to")
    if created_from and created_to and created_from > created_to:
        raise BadFilterError(_("วันที่เริ่มต้องไม่อยู่หลังวันที่สิ้นสุด"), field="from")
    try:
        statuses = statuses_from(args.getlist("status"))
    except ValidationError:
        raise BadFilterError(_("ไม่มีสถานะนี้"), field="status") from None
    filters = TicketFilter(
        statuses=statuses,
        category_id=_category_id(args.get("category", ""), categories),
        province_code=_province(args.get("province", "")),
        created_from=created_from,
        created_to=created_to,
        assignee=_assignee(args.get("assignee", "")),
        overdue=args.get("overdue") == "1",
        query=_query(args.get("q", "")),
    )
    return ListRequest(filters, _sort(args.get("sort", "")), _cursor(args.get("after", "")))


def _query(value: str) -> str:
    short = short_terms(search_terms(value))
    if short:
        raise BadFilterError(
            _(
                "คำค้นแต่ละคำต้องยาวอย่างน้อย %(count)s ตัวอักษร (ไม่ใช่ %(terms)s)",
                count=MIN_TERM_LENGTH,
                terms=" ".join(short),
            ),
            field="q",
        )
    return value


def _day(args: MultiDict[str, str], key: str) -> date | None:
    value = args.get(key, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilterError(_("วันที่ไม่ถูกต้อง (ใช้รูปแบบ ปปปป-ดด-วว)"), field=key) from None


def _category_id(code: str, categories: list[Category]) -> int | None:
    if not code:
        return None
    for category in categories:
        if category.code == code:
            return category.id
    raise BadFilterError(_("ไม่มีประเภทเรื่องนี้"), field="category")


def _province(code: str) -> str | None:
    if not code:
        return None
    if code not in {province[0] for province in _provinces()}:
        raise BadFilterError(_("ไม่มีจังหวัดนี้"), field="province")
    return code


def _assignee(value: str) -> int | Literal["none"] | None:
    if not value:
        return None
    if value == UNASSIGNED:
        return UNASSIGNED
    if value == "me":
        return current_actor().user_id
    if value.isdigit() and len(value) < 10:
        return int(value)
    raise BadFilterError(_("ผู้รับผิดชอบไม่ถูกต้อง"), field="assignee")


def _sort(value: str) -> Sort:
    try:
        return Sort(value) if value else Sort.NEWEST
    except ValueError:
        raise BadFilterError(_("ไม่มีการเรียงลำดับแบบนี้"), field="sort") from None


def _cursor(token: str) -> Cursor | None:
    if not token:
        return None
    try:
        return Cursor.decode(token)
    except ValidationError:
        raise BadFilterError(_("ลิงก์หน้าถัดไปไม่ถูกต้อง โปรดเริ่มจากหน้าแรก"), field="after") from None


def _categories() -> list[Category]:
    with runtime().uow() as uow:
        query = select(Category).where(Category.is_active.is_(True)).order_by(Category.sort_order)
        return list(uow.session.scalars(query))


def _assignees() -> list[tuple[int, str]]:
    with runtime().uow() as uow:
        rows = uow.session.execute(
            select(User.id, User.display_name)
            .where(User.role.in_(STAFF), User.is_active.is_(True))
            .order_by(User.display_name)
        ).all()
    return [(user_id, name) for user_id, name in rows]


@cache
def _provinces() -> list[tuple[str, str, str]]:
    return province_choices()
