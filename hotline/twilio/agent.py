"""Twilio webhooks for the agents' side of a call: the agent's phone dials the queue.

``/twilio/agent`` is the TwiML App's voice URL for browser phones (Voice JS SDK, identity
``agent-<user id>``) and the URL of the REST call that rings an agent's own phone (``?agent=``).
It answers ``<Dial record="record-from-answer-dual"><Queue url=…>agents</Queue></Dial>``: Twilio
bridges the longest-waiting caller and records both channels. The ``<Queue url>`` runs on the
caller's leg just before the bridge, which is when the desk learns who took whom (screen pop).
The ``<Dial action>`` comes when the agent's leg ends: the agent moves to wrap-up.

Served by :mod:`hotline.twilio.router` like every /twilio/* URL: signature first, and whatever
fails inside, the agent hears a plain Thai apology (the caller stays queued).
"""

from __future__ import annotations

import logging

from sqlalchemy import select

from hotline.calls.desk import (
    DESK_ROLES,
    DeskError,
    agent_leg_ended,
    agent_view,
    bridge_from_twilio,
)
from hotline.calls.desk_models import AgentState, QueueEntry
from hotline.runtime import Runtime
from hotline.twilio.router import Route, WebhookRequest
from ivr_flows.twiml import EMPTY_TWIML, Response
from recordings.jobs import note_recording
from ticketing.models import Role, User

log = logging.getLogger(__name__)
CLIENT_PREFIX = "client:agent-"
QUEUE = "agents"
NO_CALLER = "ขณะนี้ไม่มีผู้โทรรอสายค่ะ"
NOT_AN_AGENT = "ขออภัยค่ะ บัญชีนี้ไม่สามารถรับสายได้"
SYSTEM_FAULT = "ขออภัยค่ะ ระบบขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้งค่ะ"
FINISH_FIRST = "กรุณาจบสายเดิมและสรุปการสนทนาก่อนรับสายใหม่ค่ะ"


def agent_identity(user_id: int) -> str:
    """The Voice SDK identity of an agent; Twilio sends it back as ``From=client:<identity>``."""
    return f"agent-{user_id}"


class AgentWebhooks:
    """The agent leg's handlers: each takes Twilio's request and answers TwiML."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt

    def routes(self) -> dict[str, Route]:
        fault, empty = self.fault_to_agent, _empty
        return {
            "/twilio/agent": Route(self.agent, fault),
            "/twilio/agent/bridge": Route(self.bridge, empty),
            "/twilio/agent/done": Route(self.done, fault),
            "/twilio/agent/recording": Route(self.recording, empty),
        }

    def agent(self, request: WebhookRequest) -> str:
        """An agent's phone (browser or own) asks what to do: dial the agents' queue,
        recorded."""
        user = self._agent(request)
        refusal = NOT_AN_AGENT if user is None else self._busy(user.id)
        if refusal or user is None:
            return self._say_and_hang_up(refusal or NOT_AN_AGENT)
        base = self.rt.settings.public_base_url.rstrip("/")
        response = Response()
        dial = response.dial(
            None,
            action=f"{base}/twilio/agent/done?agent={user.id}",
            method="POST",
            timeout=20,
            record="record-from-answer-dual",
            recording_status_callback=f"{base}/twilio/agent/recording?agent={user.id}",
        )
        dial.queue(QUEUE, url=f"{base}/twilio/agent/bridge?agent={user.id}", method="POST")
        return str(response)

    def bridge(self, request: WebhookRequest) -> str:
        """On the caller's leg, just before the bridge: the agent takes this caller (screen
        pop)."""
        rt, user, form = self.rt, self._agent(request), request.form
        if user is not None:
            try:
                bridge_from_twilio(rt.db, rt.call_log, user.id, form.get("CallSid", ""),
                                   form.get("DequeingCallSid"), rt.clock())  # fmt: skip
            except DeskError as error:  # the bridge goes ahead whatever the desk thinks
                log.warning("bridged a caller to an agent the desk saw as busy: %s", error)
            except Exception:
                log.exception("could not note the bridge on the desk")
        return EMPTY_TWIML

    def done(self, request: WebhookRequest) -> str:
        """The agent's <Dial> is over: after a call, wrap-up; if nobody was waiting, say so."""
        rt, user = self.rt, self._agent(request)
        was_on_call = user is not None and agent_leg_ended(rt.db, user.id, rt.clock())
        if not was_on_call and request.form.get("DialCallStatus") != "completed":
            return self._say_and_hang_up(NO_CALLER)
        response = Response()
        response.hangup()
        return str(response)

    def recording(self, request: WebhookRequest) -> str:
        """<Dial record> finished: the recording belongs to the caller's call (and its
        ticket)."""
        rt, form = self.rt, request.form
        sid = form.get("RecordingSid", "")
        if not sid:
            return EMPTY_TWIML
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
        status = form.get("RecordingStatus", "")
        note_recording(rt.uow(), sid, caller_sid or agent_leg, status, data)
        return EMPTY_TWIML

    def fault_to_agent(self, _request: WebhookRequest) -> str:
        """The agent's own leg failed: tell them plainly and end it (the caller stays
        queued)."""
        return self._say_and_hang_up(SYSTEM_FAULT)

    # Helpers -------------------------------------------------------------------------------

    def _say_and_hang_up(self, text: str) -> str:
        settings = self.rt.settings
        response = Response()
        response.say(text, voice=settings.tts_voice, language=settings.tts_language)
        response.hangup()
        return str(response)

    def _agent(self, request: WebhookRequest) -> User | None:
        """The agent this leg belongs to, from the signed URL or the browser phone's identity."""
        raw = request.args.get("agent") or request.form.get("From", "").removeprefix(CLIENT_PREFIX)
        if not raw.isdecimal():
            return None
        with self.rt.uow() as uow:
            user = uow.session.get(User, int(raw))
        if user is None or not user.is_active or Role(user.role) not in DESK_ROLES:
            return None
        return user

    def _busy(self, user_id: int) -> str | None:
        """Why this agent may not take a caller now (on a call, or the wrap-up is not done)."""
        state = agent_view(self.rt.db, user_id).state
        return FINISH_FIRST if state in (AgentState.ON_CALL, AgentState.WRAP_UP) else None


def _empty(_request: WebhookRequest) -> str:
    return EMPTY_TWIML
