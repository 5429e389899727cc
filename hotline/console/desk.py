"""The agent's live desk: the queue, the agents' states, taking calls, the screen pop, wrap-up.

Live updates travel over server-sent events (``/console/live``): each stream is bounded
(``STREAM_S`` seconds, then the browser reconnects after ``retry:``), so a gunicorn worker is
never held for long and a deploy never strands a browser. The stream reads the database every
``POLL_S`` seconds and sends an event only when its content changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from flask import (
    Blueprint,
    Response,
    jsonify,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from twilio.base.exceptions import TwilioException
from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from hotline.auth import current_actor, roles_required
from hotline.calls.desk import (
    DESK_ROLES,
    DISPOSITIONS,
    DeskError,
    agent_view,
    agent_views,
    end_simulated_call,
    recent_state_changes,
    screen_pop,
    set_state_by_hand,
    take_next_simulated,
    waiting_callers,
    wrap_up,
)
from hotline.calls.desk_models import AgentState
from hotline.console.labels import menu_path, outcome_label
from hotline.console.shared import be_datetime, signed_in_user_id, status_th
from hotline.i18n import current_language, localized
from hotline.runtime import runtime
from hotline.twilio.agent import agent_identity
from hotline.twilio.rest import TwilioApi
from ticketing.audit import record_audit
from ticketing.errors import ValidationError
from ticketing.models import Role
from ticketing.phones import format_phone_display, mask_phone, parse_phone_strict

bp = Blueprint("desk", __name__, url_prefix="/console")
STREAM_S, POLL_S, RETRY_MS = 25.0, 1.0, 1000
TOKEN_TTL_S = 3600
STATE_TEXT = {
    AgentState.AVAILABLE: _l("พร้อมรับสาย"), AgentState.ON_CALL: _l("กำลังคุยสาย"),
    AgentState.WRAP_UP: _l("สรุปการสนทนา"), AgentState.AWAY: _l("ไม่อยู่"),
}  # fmt: skip
ERRORS = {
    "bad_state": _l("สถานะนี้เลือกเองไม่ได้"),
    "on_call": _l("กรุณาวางสายก่อนเปลี่ยนสถานะ"),
    "wrap_up_needed": _l("กรุณาสรุปการสนทนาก่อนกลับมาพร้อมรับสาย"),
    "queue_empty": _l("ขณะนี้ไม่มีผู้โทรรอสาย"),
    "busy": _l("กรุณาจบสายปัจจุบันและสรุปการสนทนาก่อน"),
    "not_on_call": _l("ไม่มีสายที่กำลังคุยอยู่"),
    "not_simulated": _l("สายนี้เป็นสายจริง กรุณาวางสายที่โทรศัพท์"),
    "bad_disposition": _l("กรุณาเลือกผลการสนทนา"),
    "not_wrapping_up": _l("ไม่มีสายที่ต้องสรุป"),
    "call_not_logged": _l("ระบบกำลังบันทึกสาย กรุณาลองอีกครั้งในอีกสักครู่"),
    "real_telephony": _l("ระบบนี้ต่อกับ Twilio จริง กรุณารับสายด้วยโทรศัพท์บนเบราว์เซอร์หรือโทรศัพท์ของท่าน"),
    "simulated": _l("ระบบสาธิตไม่มีการโทรจริง กรุณาใช้ปุ่มรับสายถัดไป"),
    "bad_phone": _l("หมายเลขโทรศัพท์ไม่ถูกต้อง"),
    "twilio_failed": _l("Twilio ไม่รับคำขอโทรออก"),
}  # fmt: skip


def _desk_error(error: DeskError, status: int = 409) -> ResponseReturnValue:
    message = ERRORS.get(error.code, str(error))
    return jsonify(error=error.code, message=str(message)), status


THAI_PREFIX = "+66"


# Pages -------------------------------------------------------------------------------------


@bp.get("/queue")
@roles_required(*DESK_ROLES)
def queue_page() -> ResponseReturnValue:
    return render_template("console/queue.html", texts=_texts())


@bp.get("/desk")
@roles_required(*DESK_ROLES)
def desk_page() -> ResponseReturnValue:
    settings = runtime().settings
    return render_template(
        "console/desk.html",
        texts=_texts(),
        simulated=settings.telephony_simulated,
        sdk_missing=settings.voice_sdk_missing,
        dispositions=[(code, localized(th, en)) for code, (th, en) in DISPOSITIONS.items()],
        states=[(s.value, str(STATE_TEXT[s])) for s in (AgentState.AVAILABLE, AgentState.AWAY)],
    )


@bp.get("/agents")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
def agents_page() -> ResponseReturnValue:
    """Supervisors: every agent's state now and the latest changes (occupancy comes later)."""
    db = runtime().db
    return render_template(
        "console/agents.html", agents=agent_views(db), changes=recent_state_changes(db),
        state_text={s.value: str(text) for s, text in STATE_TEXT.items()},
    )  # fmt: skip


def _texts() -> dict[str, str]:
    """The words the page's script writes, translated here (the script has no catalog)."""
    return {
        "seconds": _("วินาที"), "minutes": _("นาที"), "tickets": _("เรื่อง"),
        "none_waiting": _("ไม่มีผู้โทรรอสาย"), "no_agents": _("ยังไม่มีเจ้าหน้าที่เข้าระบบ"),
        "simulated": _("สายจำลอง"), "no_calls": _("ไม่เคยโทรมาก่อน"),
        "no_tickets": _("ไม่มีเรื่องร้องเรียนเดิม"),
    }  # fmt: skip


# Live events -------------------------------------------------------------------------------


@bp.get("/live")
@roles_required(*DESK_ROLES)
def live() -> ResponseReturnValue:
    """Server-sent events: ``queue`` (callers, agents) and ``desk`` (this agent, screen pop)."""
    user_id = signed_in_user_id()
    return Response(
        stream_with_context(_events(user_id, STREAM_S)),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _events(user_id: int, seconds: float) -> Iterator[str]:
    yield f"retry: {RETRY_MS}\n\n"
    sent: dict[str, str] = {}
    deadline = time.monotonic() + seconds
    while True:
        for name, payload in (("queue", queue_snapshot()), ("desk", desk_snapshot(user_id))):
            text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
            if sent.get(name) != text:
                sent[name] = text
                yield f"event: {name}\ndata: {text}\n\n"
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL_S)


def queue_snapshot() -> dict[str, Any]:
    """One queue snapshot per language per ``POLL_S`` for all of a process's open streams."""
    return runtime().snapshots.get(f"queue:{current_language()}", _read_queue)


def _read_queue() -> dict[str, Any]:
    rt = runtime()
    now = rt.clock()
    callers = [
        {"sid": c.call_sid, "phone": c.masked_phone, "wait_s": c.wait_s,
         "since": be_datetime(c.queued_at), "category": c.category and localized(*c.category),
         "path": menu_path(c.choices),
         "tickets": c.earlier_tickets, "simulated": c.simulated}
        for c in waiting_callers(rt.db, now)
    ]  # fmt: skip
    agents = [
        {"id": a.user_id, "name": a.name, "state": a.state,
         "label": str(STATE_TEXT[AgentState(a.state)]), "since": be_datetime(a.since)}
        for a in agent_views(rt.db)
    ]  # fmt: skip
    return {"callers": callers, "agents": agents}


def desk_snapshot(user_id: int) -> dict[str, Any]:
    rt = runtime()
    me = agent_view(rt.db, user_id)
    pop = screen_pop(rt.db, me.call_sid) if me.call_sid else None
    return {
        "state": me.state,
        "label": str(STATE_TEXT[AgentState(me.state)]),
        "call_sid": me.call_sid,
        "pop": None if pop is None else _pop_json(pop),
    }


def _pop_json(pop: Any) -> dict[str, Any]:
    return {
        "call_sid": pop.call_sid,
        "phone": format_phone_display(pop.phone) if pop.phone.startswith("+") else pop.phone,
        "category": pop.category and localized(*pop.category),
        "path": menu_path(pop.path),
        "postal_code": pop.choices.get("postal_code", ""),
        "simulated": pop.simulated,
        "calls": [{"at": be_datetime(c["at"]), "outcome": outcome_label(c["outcome"])}
                  for c in pop.earlier_calls],
        "tickets": [{"number": t["number"], "status": status_th(t["status"]),
                     "at": be_datetime(t["at"]), "category": localized(*t["category"]),
                     "url": url_for("ticket.page", number=t["number"])}
                    for t in pop.tickets],
        "new_ticket_url": url_for("new_ticket.form", call=pop.call_sid),
    }  # fmt: skip


# Agent state and calls ---------------------------------------------------------------------


@bp.post("/agent/state")
@roles_required(*DESK_ROLES)
def change_state() -> ResponseReturnValue:
    rt = runtime()
    try:
        set_state_by_hand(rt.db, signed_in_user_id(), request.form.get("state", ""), rt.clock())
    except DeskError as error:
        return _desk_error(error, 400 if error.code == "bad_state" else 409)
    return jsonify(desk_snapshot(signed_in_user_id()))


@bp.post("/agent/take")
@roles_required(*DESK_ROLES)
def take_next() -> ResponseReturnValue:
    """The embedded demo: take the longest-waiting simulated caller (no audio is bridged)."""
    rt = runtime()
    if not rt.settings.telephony_simulated:
        return _desk_error(DeskError("real_telephony", "use a phone"))
    try:
        take_next_simulated(rt.db, rt.call_log, signed_in_user_id(), rt.clock())
    except DeskError as error:
        return _desk_error(error)
    return jsonify(desk_snapshot(signed_in_user_id()))


@bp.post("/agent/end")
@roles_required(*DESK_ROLES)
def end_call() -> ResponseReturnValue:
    rt = runtime()
    try:
        end_simulated_call(rt.db, signed_in_user_id(), rt.clock())
    except DeskError as error:
        return _desk_error(error)
    return jsonify(desk_snapshot(signed_in_user_id()))


@bp.post("/agent/wrap-up")
@roles_required(*DESK_ROLES)
def submit_wrap_up() -> ResponseReturnValue:
    rt = runtime()
    try:
        wrap_up(rt.db, signed_in_user_id(), request.form.get("disposition", ""), rt.clock())
    except DeskError as error:
        return _desk_error(error, 400 if error.code == "bad_disposition" else 409)
    return jsonify(desk_snapshot(signed_in_user_id()))


@bp.get("/agent/token")
@roles_required(*DESK_ROLES)
def voice_token() -> ResponseReturnValue:
    """A Twilio Voice access token for the browser phone, or what is missing to make one."""
    settings = runtime().settings
    missing = settings.voice_sdk_missing
    if missing:
        message = _("ยังไม่ได้ตั้งค่าโทรศัพท์บนเบราว์เซอร์: ขาด %(names)s", names=", ".join(missing))
        return jsonify(error="not_configured", missing=missing, message=message), 503
    identity = agent_identity(signed_in_user_id())
    token = AccessToken(
        settings.twilio_account_sid,
        settings.twilio_api_key_sid,
        settings.twilio_api_key_secret,
        identity=identity,
        ttl=TOKEN_TTL_S,
    )
    token.add_grant(VoiceGrant(outgoing_application_sid=settings.twilio_twiml_app_sid))
    return jsonify(token=token.to_jwt(), identity=identity, ttl_s=TOKEN_TTL_S)


@bp.post("/agent/call-me")
@roles_required(*DESK_ROLES)
def call_me() -> ResponseReturnValue:
    """Ring the agent's own phone; when answered, it dials the agents' queue (/twilio/agent)."""
    rt = runtime()
    if rt.settings.telephony_simulated:
        return _desk_error(DeskError("simulated", "no telephony"))
    try:
        phone = parse_phone_strict(request.form.get("phone", ""))
    except ValidationError:
        return _desk_error(DeskError("bad_phone", "bad phone"), 400)
    if not phone.startswith(THAI_PREFIX):  # no billed calls abroad, no toll fraud
        return _desk_error(DeskError("bad_phone", "only Thai numbers"), 400)
    with rt.uow() as uow:  # who had the hotline ring which phone, for the audit trail
        record_audit(uow.session, current_actor(), "agent.call_me",
                     ("user", str(signed_in_user_id())),
                     after={"phone": mask_phone(phone)})  # fmt: skip
        uow.commit()
    base = rt.settings.public_base_url.rstrip("/")
    try:
        call = TwilioApi(rt.settings).client().calls.create(
            to=phone, from_=rt.settings.hotline_number,
            url=f"{base}/twilio/agent?agent={signed_in_user_id()}", method="POST",
        )  # fmt: skip
    except TwilioException:
        return _desk_error(DeskError("twilio_failed", "Twilio refused"), 502)
    return jsonify(call_sid=call.sid, phone=mask_phone(phone))
