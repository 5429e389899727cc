"""The agents' console: home page and recording playback (the full console is growing here).

Playback streams from storage with HTTP Range, so the browser's <audio> can seek, and writes an
audit event for every playback (PDPA): who, which recording, when, from where. A playback is a
request that starts at byte 0; the seeks that follow it belong to the same playback.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline.auth import current_actor, current_user, roles_required
from hotline.background.recordings import make_store
from hotline.calls.models import Call, call_tickets
from hotline.console.shared import (
    add_template_helpers,
    alerts_for,
    be_datetime,
    masked_phone,
    overdue,
    status_th,
)
from hotline.console.ticket_forms import action_choices, http_status, thai_message
from hotline.i18n import localized
from hotline.runtime import runtime
from recordings.models import Recording, RecordingState
from recordings.storage import StorageError
from ticketing import referrals
from ticketing.audit import record_audit
from ticketing.citizen_id import mask_citizen_id
from ticketing.deadlines import OPEN_REFERRAL
from ticketing.errors import TicketingError
from ticketing.locations import validate_location
from ticketing.models import Note, Referral, Role, StatusChange, Ticket
from ticketing.numbers import parse_ticket_number
from ticketing.permissions import STAFF
from ticketing.services import add_note, change_status
from ticketing.statuses import TicketStatus, allowed_targets

bp = Blueprint("console", __name__, url_prefix="/console")
add_template_helpers(bp)
CALL_OUTCOMES = {
    "self_service": _l("ทำรายการเองครบ"), "answered": _l("เจ้าหน้าที่รับสาย"),
    "abandoned_queue": _l("วางสายระหว่างรอ"), "abandoned_ivr": _l("วางสายในเมนู"),
    "transferred": _l("โอนสาย"),
}  # fmt: skip
RECORDING_STATES = {
    "pending": _l("กำลังดึงไฟล์"), "stored": _l("จัดเก็บแล้ว"), "failed": _l("ดึงไฟล์ไม่สำเร็จ"),
    "absent": _l("ไม่มีเสียง"), "purged": _l("ลบตามระยะเวลาเก็บรักษา"),
}  # fmt: skip
REFERRAL_ACTIONS = {
    "progress": referrals.post_progress, "answer": referrals.answer,
    "send_back": referrals.send_back,
}  # fmt: skip
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@bp.get("/")
@roles_required(*STAFF, Role.AGENCY)
def home() -> ResponseReturnValue:
    user = current_user()
    if user is None or user.role == Role.AGENCY:
        # Agencies see only what was referred to them.
        return redirect(url_for("console.agency_referrals"))
    tickets = _recent_tickets()
    return render_template(
        "console/home.html",
        tickets=tickets,
        recordings=_stored_recordings(tickets),
        alerts=alerts_for(user.id),
    )


def _stored_recordings(tickets: list[Ticket]) -> dict[int, str]:
    """ticket id → SID of its stored recording (the caller's own words), for the players."""
    if not tickets:
        return {}
    with runtime().uow() as uow:
        rows = uow.session.execute(
            select(Recording.ticket_id, Recording.sid).where(
                Recording.ticket_id.in_([t.id for t in tickets]),
                Recording.state == RecordingState.STORED,
            )
        ).all()
    return {ticket_id: sid for ticket_id, sid in rows if ticket_id is not None}


def _recent_tickets(limit: int = 20) -> list[Ticket]:
    with runtime().uow() as uow:
        query = (
            select(Ticket)
            .options(joinedload(Ticket.category))
            .where(Ticket.is_training.is_(False))
            .order_by(Ticket.created_at.desc())
            .limit(limit)
        )
        return list(uow.session.scalars(query))


@bp.get("/recordings/<sid>/audio")
@roles_required(*STAFF)
def recording_audio(sid: str) -> ResponseReturnValue:
    rt = runtime()
    with rt.uow() as uow:
        recording = uow.session.scalars(select(Recording).where(Recording.sid == sid)).first()
    if recording is None:
        abort(404)
    if recording.state == RecordingState.PURGED:
        abort(410, description="This recording was deleted at the end of its retention period.")
    if recording.state != RecordingState.STORED or not recording.storage_key:
        abort(404, description="This recording is not available yet.")
    store = make_store(rt.settings)
    try:
        size = store.size(recording.storage_key)
    except StorageError:
        abort(404)
    span = _requested_range(request.headers.get("Range"), size)
    if span is None:
        return Response(status=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = span
    if start == 0:
        _audit_playback(recording)
    body = store.read(recording.storage_key, start, end)
    return _audio_response(body, recording.content_type or "audio/wav", start, end, size)


def _requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive; the whole file without a header; None when unsatisfiable."""
    if not header:
        return 0, size - 1
    match = RANGE.match(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = min(int(last), size)
        return (size - length, size - 1) if length else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None


def _audio_response(
    body: Iterator[bytes], content_type: str, start: int, end: int, size: int
) -> Response:
    partial = request.headers.get("Range") is not None
    response = Response(body, status=206 if partial else 200, mimetype=content_type)
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Length"] = str(end - start + 1)
    response.headers["Cache-Control"] = "private, no-store"  # personal data: no caches
    if partial:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _audit_playback(recording: Recording) -> None:
    actor = current_actor()
    with runtime().uow() as uow:
        after = {"ticket_id": recording.ticket_id, "call_sid": recording.call_sid,
                 "user_agent": request.user_agent.string[:200]}  # fmt: skip
        record_audit(
            uow.session, actor, "recording.play", ("recording", recording.sid), after=after
        )
        uow.commit()


# A ticket ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str  # status, note, call, recording, referral
    title: str
    body: str = ""
    recording_sid: str | None = None
    overdue: bool = False


@bp.get("/tickets/<number>")
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
        error=error,
    )
    return Response(page, status=status)


@bp.post("/tickets/<number>/notes")
@roles_required(*STAFF)
def ticket_note(number: str) -> ResponseReturnValue:
    ticket, form = ticket_or_404(number), request.form

    def write() -> object:
        public = form.get("public") == "1"
        return add_note(
            runtime().uow(), ticket.id, form.get("body", ""), current_actor(), is_public=public
        )

    return act_on_ticket(ticket, write)


@bp.post("/tickets/<number>/status")
@roles_required(*STAFF)
def ticket_status(number: str) -> ResponseReturnValue:
    ticket, form = ticket_or_404(number), request.form

    def write() -> object:
        reason = form.get("reason", "")
        return change_status(
            runtime().uow(), ticket.id, form.get("status", ""), current_actor(), reason=reason
        )

    return act_on_ticket(ticket, write)


def act_on_ticket(ticket: Ticket, action: Callable[[], object]) -> ResponseReturnValue:
    """Run a service; a refused change shows the page again with the reason, nothing written."""
    try:
        action()
    except TicketingError as exc:
        return render_ticket(ticket, error=thai_message(exc), status=http_status(exc))
    return redirect(url_for("console.ticket_page", number=ticket.number))


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


def _timeline(ticket: Ticket) -> list[TimelineItem]:
    items: list[TimelineItem] = []
    with runtime().uow() as uow:
        session = uow.session
        for change in session.scalars(
            select(StatusChange).where(StatusChange.ticket_id == ticket.id)
        ):
            title = _("สถานะ: %(status)s", status=status_th(change.to_status))
            items.append(TimelineItem(change.created_at, "status", title, change.reason))
        for note in session.scalars(select(Note).where(Note.ticket_id == ticket.id)):
            kind = _("บันทึก (แจ้งผู้ร้องได้)") if note.is_public else _("บันทึกภายใน")
            items.append(
                TimelineItem(note.created_at, "note", f"{kind} · {note.author_label}", note.body)
            )
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


# Agencies: what was referred to them -----------------------------------------------------------


@bp.get("/referrals")
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


@bp.get("/referrals/<int:referral_id>")
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


@bp.post("/referrals/<int:referral_id>/respond")
@roles_required(Role.AGENCY)
def agency_respond(referral_id: int) -> ResponseReturnValue:
    """Progress, answer or send back (with a reason): ticketing.referrals does the work."""
    _own_referral_or_404(referral_id)
    action = REFERRAL_ACTIONS.get(request.form.get("action", ""))
    target = url_for("console.agency_referral", referral_id=referral_id)
    if action is None:
        return redirect(url_for("console.agency_referral", referral_id=referral_id,
                                error=_("โปรดเลือกว่าจะแจ้งความคืบหน้า ตอบ หรือส่งคืนเรื่อง")))  # fmt: skip
    try:
        action(runtime().uow(), referral_id, request.form.get("text", ""), current_actor())
    except TicketingError as exc:
        return redirect(url_for("console.agency_referral", referral_id=referral_id,
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
