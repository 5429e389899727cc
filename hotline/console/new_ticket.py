"""The new-ticket form at /console/tickets/new, its geo pickers and the live citizen-ID check."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.auth import current_actor, roles_required
from hotline.calls.desk import DESK_ROLES, agent_view
from hotline.calls.filing import link_call
from hotline.calls.models import Call
from hotline.console.shared import signed_in_user_id
from hotline.console.ticket_forms import http_status, thai_message
from hotline.i18n import localized
from hotline.runtime import runtime
from ticketing.citizen_id import CITIZEN_ID_LENGTH, is_valid_citizen_id
from ticketing.errors import TicketingError, ValidationError
from ticketing.filing import TicketDraft
from ticketing.locations import district_choices, districts_for_postal_code, province_choices
from ticketing.models import Category, Ticket
from ticketing.permissions import Action, can
from ticketing.phones import format_phone_display
from ticketing.services import open_ticket

bp = Blueprint("new_ticket", __name__, url_prefix="/console")


# The form ----------------------------------------------------------------------------------


@bp.get("/tickets/new", endpoint="form")
@roles_required(*DESK_ROLES)
def new_ticket() -> ResponseReturnValue:
    call = _call_or_none(request.args.get("call", ""))
    return render_template("console/new_ticket.html", **_form_context(call, {}, None))


@bp.post("/tickets/new", endpoint="create")
@roles_required(*DESK_ROLES)
def create_ticket() -> ResponseReturnValue:
    form = request.form
    call = _call_or_none(form.get("call", ""))
    draft = TicketDraft(
        channel="phone" if call else "walk_in",
        category_code=form.get("category", ""),
        description=form.get("description", "").strip(),
        caller_phone=(call.from_number if call else None) or form.get("caller_phone") or None,
        citizen_id=form.get("citizen_id") or None,
        citizen_name=form.get("citizen_name", "").strip() or None,
        province_code=form.get("province") or None,
        district_code=form.get("district") or None,
        postal_code=form.get("postal_code") or None,
    )
    link = _linker(call.call_sid) if call else None
    try:
        ticket = open_ticket(runtime().uow(), draft, current_actor(), also=link)
    except TicketingError as error:  # the agent's words from the error's field and rule
        context = _form_context(call, form, thai_message(error), error.field)
        return render_template("console/new_ticket.html", **context), http_status(error)
    return redirect(url_for("ticket.page", number=ticket.number))


def _linker(call_sid: str) -> Any:
    def link(session: Session, ticket: Ticket) -> None:
        link_call(session, call_sid, ticket.id)

    return link


def _call_or_none(call_sid: str) -> Call | None:
    if not call_sid:
        return None
    with runtime().uow() as uow:
        call = uow.session.scalars(select(Call).where(Call.call_sid == call_sid[:64])).first()
    if call is None:
        abort(404, description="No call with that SID.")
    if not _may_file_for(call):
        abort(403, description="Only the agent on this call, or a supervisor, may file for it.")
    return call


def _may_file_for(call: Call) -> bool:
    """The agent's own current call (on it or wrapping it up); supervisors may file for any.

    The form shows the caller's whole number, which only the agent talking to them needs.
    """
    if can(current_actor(), Action.VIEW_CALLER_NUMBER):
        return True
    return agent_view(runtime().db, signed_in_user_id()).call_sid == call.call_sid


def _form_context(
    call: Call | None, values: Any, error: str | None, error_field: str | None = None
) -> dict[str, Any]:
    with runtime().uow() as uow:
        categories = list(
            uow.session.scalars(
                select(Category).where(Category.is_active.is_(True)).order_by(Category.code)
            )
        )
    return {
        "call": call,
        "caller": format_phone_display(call.from_number) if call and call.from_number else "",
        "categories": [(c.code, localized(c.name_th, c.name_en)) for c in categories],
        "provinces": [(code, localized(th, en)) for code, th, en in province_choices()],
        "values": values,
        "error": error,
        "error_field": error_field,
    }


# Pickers and the citizen-ID check ----------------------------------------------------------


@bp.get("/geo/districts")
@roles_required(*DESK_ROLES)
def geo_districts() -> ResponseReturnValue:
    try:
        districts = district_choices(request.args.get("province", ""))
    except ValidationError as error:
        return jsonify(error="invalid", message=str(error)), 400
    return jsonify(districts=[{"code": c, "name": localized(th, en)} for c, th, en in districts])


@bp.get("/geo/postal-code")
@roles_required(*DESK_ROLES)
def geo_postal_code() -> ResponseReturnValue:
    try:
        found = districts_for_postal_code(request.args.get("code", ""))
    except ValidationError as error:
        return jsonify(error="invalid", message=str(error)), 400
    return jsonify(
        districts=[
            {"province": d.province_code, "district": d.district_code,
             "province_name": localized(d.province_name_th, d.province_name_en),
             "district_name": localized(d.district_name_th, d.district_name_en)}
            for d in found
        ]
    )  # fmt: skip


@bp.get("/citizen-id/check")
@roles_required(*DESK_ROLES)
def citizen_id_check() -> ResponseReturnValue:
    """The server's word on a citizen ID being typed (the page checks mod 11 as well)."""
    value = request.args.get("value", "")[:40]
    if is_valid_citizen_id(value):
        return jsonify(valid=True, message=_("เลขประจำตัวประชาชนถูกต้อง"))
    if len(re.sub(r"\D", "", value)) != CITIZEN_ID_LENGTH:
        return jsonify(valid=False, message=_("เลขประจำตัวประชาชนต้องมี 13 หลัก"))
    return jsonify(valid=False, message=_("เลขประจำตัวประชาชนไม่ถูกต้อง โปรดตรวจสอบอีกครั้ง"))
