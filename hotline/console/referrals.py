"""The agencies' screens at /console/referrals: what was referred to them, and their answers."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline.auth import current_actor, roles_required
from hotline.console.shared import alerts_for
from hotline.runtime import runtime
from ticketing.citizen_id import mask_citizen_id
from ticketing.deadlines import OPEN_REFERRAL
from ticketing.errors import TicketingError
from ticketing.locations import validate_location
from ticketing.models import Note, Referral, Role, Ticket
from ticketing.referrals import answer, post_progress, send_back

bp = Blueprint("referrals", __name__, url_prefix="/console/referrals")
REFERRAL_ACTIONS = {"progress": post_progress, "answer": answer, "send_back": send_back}


@bp.get("", endpoint="index")
@roles_required(Role.AGENCY)
def agency_referrals() -> ResponseReturnValue:
    """The agency's referrals: open ones first, soonest deadline first."""
    agency_id = current_actor().agency_id
    with runtime().uow() as uow:
        rows = list(uow.session.scalars(
            select(Referral)
            .options(joinedload(Referral.agency))
            .where(Referral.agency_id == agency_id)
            .order_by(Referral.status.notin_(OPEN_REFERRAL), Referral.due_at)
            .limit(200)
        ))  # fmt: skip
        tickets = {t.id: t for t in uow.session.scalars(
            select(Ticket).options(joinedload(Ticket.category))
            .where(Ticket.id.in_([r.ticket_id for r in rows]))
        )}  # fmt: skip
    return render_template("console/referrals.html", referrals=rows, tickets=tickets,
                           alerts=alerts_for(current_actor().user_id or 0))  # fmt: skip


@bp.get("/<int:referral_id>", endpoint="page")
@roles_required(Role.AGENCY)
def agency_referral(referral_id: int) -> ResponseReturnValue:
    referral = _own_referral_or_404(referral_id)
    with runtime().uow() as uow:
        ticket = uow.session.scalars(
            select(Ticket).options(joinedload(Ticket.category))
            .where(Ticket.id == referral.ticket_id)
        ).one()  # fmt: skip
        notes = list(uow.session.scalars(
            select(Note).where(Note.ticket_id == ticket.id, Note.is_public)
            .order_by(Note.created_at)
        ))  # fmt: skip
    return render_template(
        "console/referral.html",
        referral=referral,
        ticket=ticket,
        notes=notes,
        place=_place_th(ticket),
        citizen_id=mask_citizen_id(ticket.citizen_id) if ticket.citizen_id else "-",
        error=request.args.get("error"),
        is_open=referral.status in OPEN_REFERRAL,
    )


@bp.post("/<int:referral_id>/respond", endpoint="respond")
@roles_required(Role.AGENCY)
def agency_respond(referral_id: int) -> ResponseReturnValue:
    """Progress, answer or send back (with a reason): ticketing.referrals does the work."""
    _own_referral_or_404(referral_id)
    action = REFERRAL_ACTIONS.get(request.form.get("action", ""))
    target = url_for("referrals.page", referral_id=referral_id)
    if action is None:
        return redirect(url_for("referrals.page", referral_id=referral_id,
                                error=_("โปรดเลือกว่าจะแจ้งความคืบหน้า ตอบ หรือส่งคืนเรื่อง")))  # fmt: skip
    try:
        action(runtime().uow(), referral_id, request.form.get("text", ""), current_actor())
    except TicketingError as exc:
        return redirect(url_for("referrals.page", referral_id=referral_id,
                                error=exc.message))  # fmt: skip
    return redirect(target)


def _own_referral_or_404(referral_id: int) -> Referral:
    """Another agency's referral does not exist, as far as this user can tell."""
    agency_id = current_actor().agency_id
    with runtime().uow() as uow:
        referral = uow.session.scalars(
            select(Referral).options(joinedload(Referral.agency))
            .where(Referral.id == referral_id, Referral.agency_id == agency_id)
        ).first()  # fmt: skip
    if referral is None or agency_id is None:
        abort(404)
    return referral


def _place_th(ticket: Ticket) -> str:
    if not ticket.province_code:
        return "-"
    try:
        return validate_location(ticket.province_code, ticket.district_code,
                                 ticket.subdistrict_code, ticket.postal_code).label_th  # fmt: skip
    except TicketingError:
        return ticket.province_code
