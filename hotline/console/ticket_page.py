"""The ticket page (/console/tickets/<number>) and its actions: notes, status, assign, refer, merge.

The actions are thin: they parse the form, call one service and show the ticket again, or the
page with the refusal in the agent's language and a 4xx status (nothing written).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from hotline.auth import current_actor, roles_required
from hotline.calls.models import Call, call_tickets
from hotline.console.shared import be_datetime, masked_phone, overdue, status_th
from hotline.console.ticket_forms import action_choices, http_status, thai_message
from hotline.i18n import localized
from hotline.runtime import runtime
from recordings.models import Recording, RecordingState
from ticketing.errors import TicketingError, ValidationError
from ticketing.locations import district_choices, province_choices
from ticketing.models import AuditEvent, Note, Referral, StatusChange, Ticket, User
from ticketing.numbers import parse_ticket_number
from ticketing.permissions import STAFF
from ticketing.services import add_note, assign, change_status, merge_duplicate, refer
from ticketing.statuses import TicketStatus, allowed_targets

bp = Blueprint("ticket", __name__, url_prefix="/console/tickets")
CALL_OUTCOMES = {
    "self_service": _l("ทำรายการเองครบ"), "answered": _l("เจ้าหน้าที่รับสาย"),
    "abandoned_queue": _l("วางสายระหว่างรอ"), "abandoned_ivr": _l("วางสายในเมนู"),
    "transferred": _l("โอนสาย"),
}  # fmt: skip
RECORDING_STATES = {
    "pending": _l("กำลังดึงไฟล์"), "stored": _l("จัดเก็บแล้ว"), "failed": _l("ดึงไฟล์ไม่สำเร็จ"),
    "absent": _l("ไม่มีเสียง"), "purged": _l("ลบตามระยะเวลาเก็บรักษา"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str  # status, note, assign, call, recording, referral
    title: str
    body: str = ""
    recording_sid: str | None = None
    overdue: bool = False


# The page ---------------------------------------------------------------------------------------


@bp.get("/<number>", endpoint="page")
@roles_required(*STAFF)
def ticket_page(number: str) -> ResponseReturnValue:
    return render_ticket(ticket_or_404(number))


def render_ticket(ticket: Ticket, *, error: str | None = None, status: int = 200) -> Response:
    """The ticket page; after a refused action, with the reason in Thai and a 4xx status."""
    page = render_template(
        "console/ticket.html",
        ticket=ticket,
        timeline=_timeline(ticket),
        targets=sorted(
            t.value
            for t in allowed_targets(TicketStatus(ticket.status))
            if t not in (TicketStatus.DUPLICATE, TicketStatus.REFERRED)
        ),
        choices=action_choices(ticket, current_actor()),
        location=location_text(ticket),
        error=error,
    )
    return Response(page, status=status)


def location_text(ticket: Ticket) -> str:
    """อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่ 50200 — the stored codes by name, or "" if none."""
    parts: list[str] = []
    if ticket.province_code:
        provinces = {code: localized(th, en) for code, th, en in province_choices()}
        if ticket.district_code:
            try:
                districts = district_choices(ticket.province_code)
            except ValidationError:
                districts = []
            names = {code: localized(th, en) for code, th, en in districts}
            parts.append(names.get(ticket.district_code, ticket.district_code))
        parts.append(provinces.get(ticket.province_code, ticket.province_code))
    if ticket.postal_code:
        parts.append(ticket.postal_code)
    return " ".join(parts)


# Actions ----------------------------------------------------------------------------------------


@bp.post("/<number>/notes", endpoint="note")
@roles_required(*STAFF)
def ticket_note(number: str) -> ResponseReturnValue:
    ticket, form = ticket_or_404(number), request.form

    def write() -> object:
        public = form.get("public") == "1"
        return add_note(
            runtime().uow(), ticket.id, form.get("body", ""), current_actor(), is_public=public
        )

    return act_on_ticket(ticket, write, _("บันทึกข้อความแล้ว"))


@bp.post("/<number>/status", endpoint="status")
@roles_required(*STAFF)
def ticket_status(number: str) -> ResponseReturnValue:
    ticket, form = ticket_or_404(number), request.form

    def write() -> object:
        reason = form.get("reason", "")
        return change_status(
            runtime().uow(), ticket.id, form.get("status", ""), current_actor(), reason=reason
        )

    return act_on_ticket(
        ticket,
        write,
        _("เปลี่ยนสถานะเป็น “%(status)s” แล้ว", status=_status_word(form.get("status", ""))),
    )


def _status_word(value: str) -> str:
    return status_th(value) if value in {s.value for s in TicketStatus} else value


def act_on_ticket(ticket: Ticket, action: Callable[[], object], done: str) -> ResponseReturnValue:
    """Run a service; a refused change shows the page again with the reason, nothing written.
    Done, the browser is sent back to the page (post-redirect-get) with ``done`` to confirm it."""
    try:
        action()
    except TicketingError as exc:
        return render_ticket(ticket, error=thai_message(exc), status=http_status(exc))
    flash(done, "done")
    return redirect(url_for("ticket.page", number=ticket.number))


@bp.post("/<number>/assign", endpoint="assign")
@roles_required(*STAFF)
def ticket_assign(number: str) -> ResponseReturnValue:
    ticket, value = ticket_or_404(number), request.form.get("assignee", "").strip()
    if value and not (value.isdigit() and len(value) < 10):
        return render_ticket(ticket, error=_("โปรดเลือกผู้รับผิดชอบจากรายชื่อ"), status=400)
    assignee_id = int(value) if value else None
    done = _("มอบหมายเรื่องแล้ว") if assignee_id else _("ยกเลิกผู้รับผิดชอบแล้ว")
    return act_on_ticket(
        ticket, lambda: assign(runtime().uow(), ticket.id, assignee_id, current_actor()), done
    )


@bp.post("/<number>/refer", endpoint="refer")
@roles_required(*STAFF)
def ticket_refer(number: str) -> ResponseReturnValue:
    ticket, form = ticket_or_404(number), request.form
    chosen = form.getlist("agency")
    if not chosen:
        return render_ticket(ticket, error=_("โปรดเลือกหน่วยงานอย่างน้อยหนึ่งแห่ง"), status=400)
    if not all(value.isdigit() and len(value) < 10 for value in chosen):
        return render_ticket(ticket, error=_("โปรดเลือกหน่วยงานจากรายชื่อ"), status=400)
    agency_ids = [int(value) for value in chosen]
    note = form.get("note", "")
    return act_on_ticket(
        ticket,
        lambda: refer(
            runtime().uow(),
            ticket.id,
            agency_ids,
            current_actor(),
            note=note,
            tz=runtime().settings.tz,
        ),
        _("ส่งต่อเรื่องให้หน่วยงานแล้ว %(count)d แห่ง", count=len(agency_ids)),
    )


@bp.post("/<number>/merge", endpoint="merge")
@roles_required(*STAFF)
def ticket_merge(number: str) -> ResponseReturnValue:
    ticket, form = ticket_or_404(number), request.form
    reason = form.get("reason", "").strip()
    try:
        original = _original(form.get("into", ""))
    except TicketingError as exc:  # _original words its errors for the agent already
        return render_ticket(ticket, error=exc.message, status=400)
    if not reason:
        return render_ticket(ticket, error=_("โปรดระบุเหตุผลที่รวมเรื่อง"), status=400)
    return act_on_ticket(
        ticket,
        lambda: merge_duplicate(
            runtime().uow(), ticket.id, original.id, current_actor(), reason=reason
        ),
        _("รวมเรื่องเข้ากับเรื่องเลขที่ %(number)s แล้ว", number=original.number),
    )


def _original(typed: str) -> Ticket:
    """The ticket a duplicate is merged into, by the number the agent typed."""
    try:
        digits = parse_ticket_number(typed).digits
    except TicketingError:
        raise ValidationError(
            _("เลขที่เรื่องที่จะรวมเข้าด้วยไม่ถูกต้อง โปรดตรวจสอบอีกครั้ง"), field="into"
        ) from None
    with runtime().uow() as uow:
        original = uow.session.scalars(select(Ticket).where(Ticket.number == digits)).first()
    if original is None:
        raise ValidationError(_("ไม่พบเรื่องเลขที่ %(number)s", number=typed.strip()), field="into")
    return original


def ticket_or_404(number: str) -> Ticket:
    try:
        digits = parse_ticket_number(number).digits
    except TicketingError:
        abort(404)
    with runtime().uow() as uow:
        ticket = uow.session.scalars(
            select(Ticket).options(joinedload(Ticket.category), joinedload(Ticket.center),
                                   joinedload(Ticket.assignee))
            .where(Ticket.number == digits)
        ).first()  # fmt: skip
    if ticket is None:
        abort(404)
    return ticket


def _display_names(session: Session, user_ids: set[int]) -> dict[int, str]:
    """People by the name they go by, not the actor label ("user:agent") kept for the audit."""
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


def _author_without_account(label: str) -> str:
    """A note written by the system (the IVR, an import) or by an account since removed."""
    return str(_("ระบบอัตโนมัติ")) if not label.startswith("user:") else label.removeprefix("user:")


def _assignments(session: Session, ticket: Ticket) -> list[TimelineItem]:
    """Who took or handed on the ticket, from the audit trail that records every assignment."""
    events = list(
        session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "ticket.assign",
                AuditEvent.entity_type == "ticket",
                AuditEvent.entity_id == ticket.number,
            )
        )
    )
    ids = {e.actor_id for e in events if e.actor_id is not None}
    ids |= {int(a) for e in events if (a := (e.after or {}).get("assignee_id"))}
    names = _display_names(session, ids)
    items = []
    for event in events:
        assignee = (event.after or {}).get("assignee_id")
        by = names.get(event.actor_id or 0) or _author_without_account(event.actor_label)
        if assignee:
            title = _("มอบหมายให้ %(name)s · โดย %(by)s", name=names.get(int(assignee), "-"), by=by)
        else:
            title = _("ยกเลิกผู้รับผิดชอบ · โดย %(by)s", by=by)
        items.append(TimelineItem(event.created_at, "assign", title))
    return items


def _timeline(ticket: Ticket) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    with runtime().uow() as uow:
        session = uow.session
        for change in session.scalars(
            select(StatusChange).where(StatusChange.ticket_id == ticket.id)
        ):
            title = _("สถานะ: %(status)s", status=status_th(change.to_status))
            items.append(TimelineItem(change.created_at, "status", title, change.reason))
        notes = list(session.scalars(select(Note).where(Note.ticket_id == ticket.id)))
        names = _display_names(session, {n.author_id for n in notes if n.author_id is not None})
        for note in notes:
            kind = _("บันทึก (แจ้งผู้ร้องได้)") if note.is_public else _("บันทึกภายใน")
            author = names.get(note.author_id or 0) or _author_without_account(note.author_label)
            items.append(TimelineItem(note.created_at, "note", f"{kind} · {author}", note.body))
        items += _assignments(session, ticket)
        for referral in session.scalars(
            select(Referral)
            .options(joinedload(Referral.agency))
            .where(Referral.ticket_id == ticket.id)
        ):
            agency = localized(referral.agency.name_th, referral.agency.name_en)
            due = be_datetime(referral.due_at)
            title = _("ส่งต่อ %(agency)s (กำหนด %(due)s)", agency=agency, due=due)
            items.append(TimelineItem(referral.sent_at, "referral", title, referral.response,
                                      overdue=overdue(referral)))  # fmt: skip
        for call in session.scalars(
            select(Call).join(call_tickets, call_tickets.c.call_id == Call.id)
            .where(call_tickets.c.ticket_id == ticket.id)
        ):  # fmt: skip
            outcome = CALL_OUTCOMES.get(call.outcome or "", call.outcome or _("กำลังสนทนา"))
            title = _("สายเข้า %(phone)s · %(outcome)s", phone=masked_phone(call.from_number),
                      outcome=outcome)  # fmt: skip
            items.append(TimelineItem(call.started_at, "call", title))
        for recording in session.scalars(select(Recording).where(Recording.ticket_id == ticket.id)):
            playable = recording.state == RecordingState.STORED
            state = RECORDING_STATES.get(recording.state, recording.state)
            seconds = recording.duration_s or "?"
            title = _("บันทึกเสียง %(seconds)s วินาที · %(state)s", seconds=seconds, state=state)
            sid = recording.sid if playable else None
            items.append(TimelineItem(recording.created_at, "recording", title, recording_sid=sid))
    return sorted(items, key=lambda item: item.at)
