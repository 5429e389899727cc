"""Twilio webhooks for the agents' side of a call: the agent's phone dials the queue.

``/twilio/agent`` is the TwiML App's voice URL for browser phones (Voice JS SDK, identity
``agent-<user id>``) and the URL of the REST call that rings an agent's own phone (``?agent=``).
It answers ``<Dial record="record-from-answer-dual"><Queue url=…>agents</Queue></Dial>``: Twilio
bridges the longest-waiting caller and records both channels. The ``<Queue url>`` runs on the
caller's leg just before the bridge, which is when the desk learns who took whom (screen pop).
The ``<Dial action>`` comes when the agent's leg ends: the agent moves to wrap-up.

``/twilio/sim/queue-member`` stands in for Twilio's queue in the embedded demo: the phone
simulator's waiting caller polls it to learn that an agent took the call, and when it ended.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import select
from twilio.twiml.voice_response import Dial, VoiceResponse

from config import Settings
from hotline.background.recordings import note_recording
from hotline.calls.buffer import CallLogWriter
from hotline.calls.desk import (
    DESK_ROLES,
    DeskError,
    agent_leg_ended,
    agent_view,
    bridge_from_twilio,
    member_state,
    note_queued,
    simulated_caller_left,
)
from hotline.calls.desk_models import AgentState, QueueEntry
from hotline.runtime import Runtime, runtime
from hotline.twilio.actions import CallInfo
from hotline.twilio.security import check_twilio_signature, empty_twiml, never_fails, twiml
from ticketing.db.engine import Database
from ticketing.models import Role, User

bp = Blueprint("agent_voice", __name__, url_prefix="/twilio")
bp.before_request(check_twilio_signature)
log = logging.getLogger(__name__)
CLIENT_PREFIX = "client:agent-"
QUEUE = "agents"
NO_CALLER = "ขณะนี้ไม่มีผู้โทรรอสายค่ะ"
NOT_AN_AGENT = "ขออภัยค่ะ บัญชีนี้ไม่สามารถรับสายได้"
SYSTEM_FAULT = "ขออภัยค่ะ ระบบขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้งค่ะ"


def _fault_to_agent() -> Response:
    """The agent's own leg failed: tell them plainly and end it (the caller stays queued)."""
    return twiml('<?xml version="1.0" encoding="UTF-8"?><Response><Say language="th-TH">'
                 f"{SYSTEM_FAULT}</Say><Hangup /></Response>")  # fmt: skip


FINISH_FIRST = "กรุณาจบสายเดิมและสรุปการสนทนาก่อนรับสายใหม่ค่ะ"


def init_agent_voice(app: Flask) -> None:
    app.register_blueprint(bp)


def agent_identity(user_id: int) -> str:
    """The Voice SDK identity of an agent; Twilio sends it back as ``From=client:<identity>``."""
    return f"agent-{user_id}"


def note_queued_call(rt: Runtime, call: CallInfo, data: Mapping[str, str], queue: str) -> None:
    """voice.py's enqueue hook. Never fails the webhook: the caller must still be queued."""
    try:
        note_queued(rt.db, call.call_sid, call.caller or "", queue, data, call.now,
                    simulated=rt.settings.telephony_simulated)  # fmt: skip
    except Exception:
        log.exception("could not note the queued call for the live queue")


# The agent's leg ---------------------------------------------------------------------------


@bp.post("/agent")
@never_fails(_fault_to_agent)
def agent() -> Response:
    """An agent's phone (browser or own) asks what to do: dial the agents' queue, recorded."""
    rt = runtime()
    user = _agent()
    response = VoiceResponse()
    refusal = NOT_AN_AGENT if user is None else _busy(rt.db, user.id)
    if refusal or user is None:
        response.say(refusal or NOT_AN_AGENT, **_voice(rt.settings))
        response.hangup()
        return twiml(response)
    base = rt.settings.public_base_url.rstrip("/")
    dial = Dial(
        action=f"{base}/twilio/agent/done?agent={user.id}",
        method="POST",
        timeout=20,
        record="record-from-answer-dual",
        recording_status_callback=f"{base}/twilio/agent/recording?agent={user.id}",
    )
    dial.queue(QUEUE, url=f"{base}/twilio/agent/bridge?agent={user.id}", method="POST")
    response.append(dial)
    return twiml(response)


@bp.post("/agent/bridge")
@never_fails(empty_twiml)
def bridge() -> Response:
    """On the caller's leg, just before the bridge: the agent takes this caller (screen pop)."""
    rt, user = runtime(), _agent()
    form = request.form
    if user is not None:
        try:
            bridge_from_twilio(rt.db, call_log_writer(), user.id, form.get("CallSid", ""),
                               form.get("DequeingCallSid"), rt.clock())  # fmt: skip
        except DeskError as error:  # the bridge goes ahead whatever the desk thinks
            log.warning("bridged a caller to an agent the desk saw as busy: %s", error)
        except Exception:
            log.exception("could not note the bridge on the desk")
    return empty_twiml()


@bp.post("/agent/done")
@never_fails(_fault_to_agent)
def done() -> Response:
    """The agent's <Dial> is over: after a call, wrap-up; if nobody was waiting, say so."""
    rt, user = runtime(), _agent()
    was_on_call = user is not None and agent_leg_ended(rt.db, user.id, rt.clock())
    response = VoiceResponse()
    if not was_on_call and request.form.get("DialCallStatus") != "completed":
        response.say(NO_CALLER, **_voice(rt.settings))
    response.hangup()
    return twiml(response)


@bp.post("/agent/recording")
@never_fails(empty_twiml)
def recording() -> Response:
    """<Dial record> finished: the recording belongs to the caller's call (and its ticket)."""
    rt = runtime()
    form = request.form
    sid = form.get("RecordingSid", "")
    if not sid:
        return empty_twiml()
    agent_leg = form.get("CallSid", "")
    with rt.uow() as uow:
        caller_sid = uow.session.scalar(
            select(QueueEntry.call_sid).where(QueueEntry.agent_call_sid == agent_leg)
        )
    data = {
        "recording_url": form.get("RecordingUrl", ""),
        "recording_duration": form.get("RecordingDuration", ""),
        "recording_source": form.get("RecordingSource", ""),
        "recording_channels": form.get("RecordingChannels", ""),
    }
    note_recording(rt.uow(), sid, caller_sid or agent_leg, form.get("RecordingStatus", ""), data)
    return empty_twiml()


# The embedded demo's queue -----------------------------------------------------------------


@bp.post("/sim/queue-member")
def sim_queue_member() -> Response:
    """Where the simulator's waiting caller stands: waiting, bridged (simulated) or ended."""
    state, agent_name = member_state(runtime().db, request.form.get("CallSid", ""))
    return jsonify(state=state, agent=agent_name)


@bp.post("/sim/caller-left")
@never_fails(lambda: jsonify(ended=False))
def sim_caller_left() -> Response:
    """The simulator's caller hung up: end their simulated bridge to a desk (demo only)."""
    rt = runtime()
    if not rt.settings.telephony_simulated:  # a plain 404: never_fails would catch an abort
        return Response("not found", status=404, mimetype="text/plain")
    ended = simulated_caller_left(rt.db, request.form.get("CallSid", ""), rt.clock())
    return jsonify(ended=ended)


# Helpers -----------------------------------------------------------------------------------


def _agent() -> User | None:
    """The agent this leg belongs to, from the signed URL or the browser phone's identity."""
    raw = request.args.get("agent") or request.form.get("From", "").removeprefix(CLIENT_PREFIX)
    if not raw.isdecimal():
        return None
    with runtime().uow() as uow:
        user = uow.session.get(User, int(raw))
    if user is None or not user.is_active or Role(user.role) not in DESK_ROLES:
        return None
    return user


def _busy(database: Database, user_id: int) -> str | None:
    """Why this agent may not take a caller now (on a call, or the wrap-up is not done)."""
    state = agent_view(database, user_id).state
    return FINISH_FIRST if state in (AgentState.ON_CALL, AgentState.WRAP_UP) else None


def call_log_writer() -> CallLogWriter:
    """The IVR's call-log writer: the desk's events take the same road as the webhooks'."""
    from hotline.twilio.voice import EXTENSION_KEY  # voice imports this module for its enqueue hook

    writer: CallLogWriter = current_app.extensions[EXTENSION_KEY].writer
    return writer


def _voice(settings: Settings) -> dict[str, str]:
    return {"voice": settings.tts_voice, "language": settings.tts_language}
