"""Twilio voice webhooks: thin handlers over the IVR engine, the actions and the call log.

Each handler reads Twilio's form into typed values, asks the engine, runs the actions it names,
logs the events and renders TwiML. They are served by :mod:`hotline.twilio.router` straight from
WSGI, which checks the signature first; whatever fails inside, the caller hears an apology in
Thai and is put through to agents: never a 5xx, never silence.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from config import Settings
from hotline.calls.desk import note_queued
from hotline.calls.kinds import CallEventKind
from hotline.calls.log import ADDRESS_CHARS, DIRECTION_CHARS, STATUS_CHARS, LogEntry, clean_text
from hotline.runtime import Runtime
from hotline.twilio.actions import ACTIONS, VALIDATORS, CallInfo, file_complaint, filed_entry
from hotline.twilio.router import Route, WebhookRequest
from hotline.twilio.state import StateError
from ivr_flows import engine
from ivr_flows.engine import Act, CallerInput, CallState, Context, Event, Outcome, Play
from ivr_flows.render import LEAVE_KEY
from ivr_flows.thai import spoken_wait
from ivr_flows.twiml import EMPTY_TWIML, Response
from recordings.jobs import note_recording
from ticketing.reference import cached_reference_data, reference_data

log = logging.getLogger(__name__)
FALLBACK_QUEUE = "agents"
APOLOGY = "ขออภัยค่ะ ระบบขัดข้องชั่วคราว ระบบจะโอนสายไปยังเจ้าหน้าที่ กรุณาถือสายรอสักครู่ค่ะ"


class VoiceWebhooks:
    """The handlers of one app's IVR: each takes Twilio's request and answers TwiML."""

    def __init__(self, rt: Runtime) -> None:
        self.ivr = rt.ivr
        self.rt = rt
        self.writer = rt.call_log

    def routes(self) -> dict[str, Route]:
        apology, empty = self.apology, _empty
        return {
            "/twilio/voice": Route(self.incoming, apology),
            "/twilio/step": Route(self.step, apology),
            "/twilio/recording-status": Route(self.recording_status, empty),
            "/twilio/queue-result": Route(self.queue_result, apology),
            # The caller is already queued: a failure only pauses the music (<Enqueue> is not
            # allowed in a waitUrl answer).
            "/twilio/wait": Route(self.wait, _hold_fallback),
            "/twilio/queue-key": Route(self.queue_key, _hold_fallback),
            "/twilio/status": Route(self.status, empty),
            "/twilio/fallback": Route(self.fallback, apology),
        }

    # Webhooks -----------------------------------------------------------------------------

    def incoming(self, request: WebhookRequest) -> str:
        """A call comes in: open the call log and play the flow's start."""
        ivr, rt, call = self.ivr, self.rt, self._call_info(request)
        form = request.form
        sid = call.call_sid
        # Webhook values are cleaned and bounded to their columns before they reach the log.
        started = LogEntry(
            sid, CallEventKind.CALL_STARTED, call.now, dedupe_key=f"{sid}:started",
            data={"from_number": call.caller,
                  "from_raw": clean_text(form.get("From", ""), ADDRESS_CHARS),
                  "to_number": clean_text(form.get("To", ""), ADDRESS_CHARS),
                  "direction": clean_text(form.get("Direction", "inbound"), DIRECTION_CHARS)},
        )  # fmt: skip
        outcome = engine.start(ivr.flow, _context(rt, call))
        return self._respond(call, outcome, key="start", entries=[started])

    def step(self, request: WebhookRequest) -> str:
        """The caller answered a node (keys, speech, a recording, a dial result or a time-out)."""
        call = self._call_info(request)
        state = self._state(request)
        outcome = engine.handle(
            self.ivr.flow, state, _caller_input(request), _context(self.rt, call)
        )
        return self._respond(call, outcome, key=str(state.step))

    def recording_status(self, request: WebhookRequest) -> str:
        """Twilio has (or failed to make) the caller's recording: keep it with the call's ticket."""
        rt, call, form = self.rt, self._call_info(request), request.form
        sid, status = form.get("RecordingSid", ""), form.get("RecordingStatus", "")
        if not sid:
            return EMPTY_TWIML
        # Agent-call recordings (<Dial record>) come without IVR state; the caller's <Record>
        # has it.
        ivr_data = self._state(request).data if request.args.get("s") else {}
        data = {
            **ivr_data,
            "recording_sid": sid,
            "recording_url": form.get("RecordingUrl", ""),
            "recording_duration": form.get("RecordingDuration", ""),
            "recording_source": form.get("RecordingSource", ""),
            "recording_channels": form.get("RecordingChannels", ""),
        }
        if status == "completed" and data.get("category"):
            # The caller may have hung up before the <Record> action filed the ticket.
            ticket = file_complaint(rt, call, data)
            self.writer.write([filed_entry(call, ticket.number)])
        note_recording(rt.uow(), sid, call.call_sid, status, data)
        return EMPTY_TWIML

    def queue_result(self, request: WebhookRequest) -> str:
        """The caller left the agent queue: bridged and done, hung up while waiting, or an
        error."""
        ivr, rt, call = self.ivr, self.rt, self._call_info(request)
        state = self._state(request)
        result = clean_text(request.form.get("QueueResult", ""), STATUS_CHARS)
        wait_s = _int(request.form.get("QueueTime"))
        entries = _queue_entries(call, state, result, wait_s)
        if result == "bridged":
            after = engine.after_queue(ivr.flow, state, True, _context(rt, call))
            if after is not None:
                return self._respond(call, after, key=f"queue:{state.step}", entries=entries)
        self.writer.write(entries)
        if result in ("hangup", "bridged", "redirected"):
            return EMPTY_TWIML
        # leave (the caller's key, or the longest wait), queue-full, error, system-error: no
        # agent will take the call now; offer what still works.
        outcome = engine.left_queue(ivr.flow, state, result, _context(rt, call))
        return self._respond(call, outcome, key=f"queue:{state.step}", entries=[])

    def wait(self, request: WebhookRequest) -> str:
        """Hold messages for a queued caller: their place, the estimated wait, how to stop
        waiting; past the node's ``max_wait`` the caller is taken out of the queue."""
        state, form = self._state(request), request.form
        node = self.ivr.flow.node(state.node)
        waited = _int(form.get("QueueTime")) or 0
        if node.leave and node.max_wait and waited >= node.max_wait:
            return str(self.ivr.renderer.leave_queue())
        heard = {**state.data, "queue_position": form.get("QueuePosition", ""),
                 "queue_wait": spoken_wait(_int(form.get("AvgQueueTime")))}  # fmt: skip
        return str(self.ivr.renderer.hold(node, state, heard))

    def queue_key(self, request: WebhookRequest) -> str:
        """A key pressed on hold: the leave key takes the caller out of the queue (Twilio then
        calls the queue-result URL with ``leave``); any other key, the hold goes on."""
        self._state(request)  # a forged or another call's token gets no <Leave>
        if request.form.get("Digits", "") == LEAVE_KEY:
            return str(self.ivr.renderer.leave_queue())
        return self.wait(request)

    def status(self, request: WebhookRequest) -> str:
        """Call progress from Twilio; closes the call. Replies with empty TwiML, whatever
        happens."""
        form = request.form
        call_sid = form.get("CallSid", "")
        at = _timestamp(form.get("Timestamp")) or datetime.now(UTC)
        status = clean_text(form.get("CallStatus", ""), STATUS_CHARS)
        entry = LogEntry(call_sid, CallEventKind.CALL_STATUS, at, value=status,
                         data={"sequence": _int(form.get("SequenceNumber")),
                               "duration": _int(form.get("CallDuration"))})  # fmt: skip
        if call_sid:
            self.writer.write([entry])
        return EMPTY_TWIML

    def fallback(self, request: WebhookRequest) -> str:
        """Twilio could not get TwiML from /twilio/voice: apologise and queue the caller."""
        form = request.form
        log.error("Twilio fallback: error %s at %s", form.get("ErrorCode"), form.get("ErrorUrl"),
                  extra={"call_sid": form.get("CallSid")})  # fmt: skip
        return self.apology(request)

    def apology(self, request: WebhookRequest) -> str:
        """Used when anything fails: apologise and put the caller through to agents."""
        try:
            ivr = self.ivr
            agent_state = CallState(node=ivr.flow.agent, call=request.call_sid or "")
            action = ivr.urls.queue_result(agent_state)
            response = ivr.renderer.apology(APOLOGY, ivr.queue_name, action)
            if request.call_sid:  # show the caller in the agents' live queue too
                self._note_queued(self._call_info(request), {})
        except Exception:  # even the apology failed: a document that needs only the settings
            log.exception("apology TwiML failed")
            return last_resort(self.rt.settings)
        return str(response)

    # Steps shared by the handlers ---------------------------------------------------------

    def _respond(
        self, call: CallInfo, outcome: Outcome, *, key: str, entries: Sequence[LogEntry] = ()
    ) -> str:
        """Run the actions the engine asks for, log everything, and render what the caller
        hears."""
        ivr, rt = self.ivr, self.rt
        collected = list(entries)
        events: list[Event] = []
        spoken: list[Any] = []
        while isinstance(outcome, Act):
            events.extend(outcome.events)
            spoken.extend(outcome.lead_in)
            done = ACTIONS[outcome.action](rt, outcome.state, call)
            collected.extend(done.entries)
            outcome = engine.resume(ivr.flow, outcome.state, done.result, _context(rt, call))
        events.extend(outcome.events)
        play = replace(outcome, lead_in=(*spoken, *outcome.lead_in)) if spoken else outcome
        if play.state.call != call.call_sid:  # the call's first state: bind it to the call
            play = replace(play, state=replace(play.state, call=call.call_sid))
        play = self._with_queue_time(play, call)
        collected.extend(_event_entries(call, key, events))
        self.writer.write(collected)
        return ivr.answers.text(play)

    def _with_queue_time(self, play: Play, call: CallInfo) -> Play:
        if self.ivr.flow.node(play.state.node).kind != "enqueue":
            return play
        queued = play.state.with_data(queued_at=call.now.isoformat())
        # The agents' live queue, at once: an agent may be bridged to this caller in a second.
        self._note_queued(call, queued.data)
        return replace(play, state=queued)

    def _note_queued(self, call: CallInfo, data: Mapping[str, str]) -> None:
        """The agents' live queue learns of the caller. Never fails the webhook: the caller
        must still be queued."""
        rt = self.rt
        try:
            note_queued(rt.db, call.call_sid, call.caller or "", self.ivr.queue_name, data,
                        call.now, simulated=rt.settings.telephony_simulated)  # fmt: skip
        except Exception:
            log.exception("could not note the queued call for the live queue")

    def _call_info(self, request: WebhookRequest) -> CallInfo:
        form = request.form
        return CallInfo(form.get("CallSid", ""), form.get("From", ""), self.rt.clock())

    def _state(self, request: WebhookRequest) -> CallState:
        token = request.args.get("s", "")
        try:
            state = self.ivr.codec.decode(token, request.form.get("CallSid", ""))
        except StateError:
            log.warning("refused an IVR state token that is forged, corrupted or expired")
            raise
        if state.node not in self.ivr.flow.nodes:  # a flow deployed mid-call dropped this node
            return replace(CallState(node=self.ivr.flow.start), step=state.step, data=state.data,
                           call=state.call, since=state.since)  # fmt: skip
        return state


def _empty(_request: WebhookRequest) -> str:
    return EMPTY_TWIML


def _hold_fallback(_request: WebhookRequest) -> str:
    """The caller is already queued: a failure only pauses the music (<Enqueue> is not allowed
    in a waitUrl answer)."""
    response = Response()
    response.pause(length=20)
    return str(response)


def last_resort(settings: Settings) -> str:
    """The apology when even the flow's renderer failed: the configured voice, then agents."""
    response = Response()
    response.say(APOLOGY, voice=settings.tts_voice, language=settings.tts_language)
    response.enqueue(FALLBACK_QUEUE)
    return str(response)


# Helpers ------------------------------------------------------------------------------------


def _event_entries(call: CallInfo, key: str, events: Sequence[Event]) -> list[LogEntry]:
    return [
        LogEntry(
            call.call_sid,
            e.kind,
            call.now,
            e.node,
            e.value,
            dedupe_key=f"{call.call_sid}:{key}:{i}",
        )
        for i, e in enumerate(events)
    ]


def _queue_entries(
    call: CallInfo, state: CallState, result: str, wait_s: int | None
) -> list[LogEntry]:
    sid, data = call.call_sid, {"wait_s": wait_s}
    if result == "bridged":
        queued_at = _parse_iso(state.data.get("queued_at"))
        connected = queued_at + timedelta(seconds=wait_s or 0) if queued_at else call.now
        return [
            LogEntry(sid, CallEventKind.CONNECT, connected, state.node,
                     dedupe_key=f"{sid}:connect", data=data),
            LogEntry(sid, CallEventKind.COMPLETE, call.now, state.node, "agent",
                     dedupe_key=f"{sid}:agent_done", data=data),
        ]  # fmt: skip
    if result == "hangup":
        return [
            LogEntry(
                sid,
                CallEventKind.ABANDON,
                call.now,
                state.node,
                dedupe_key=f"{sid}:abandon",
                data=data,
            )
        ]
    return [
        LogEntry(
            sid,
            CallEventKind.QUEUE_ERROR,
            call.now,
            state.node,
            result,
            dedupe_key=f"{sid}:queue:{result}",
        )
    ]


def _context(rt: Runtime, call: CallInfo) -> Context:
    reference = cached_reference_data(rt.db.memo)
    if reference is None:
        with rt.uow() as uow:
            reference = reference_data(uow)
    return Context(now=call.now, holidays=reference.holidays, validators=VALIDATORS)


def _caller_input(request: WebhookRequest) -> CallerInput:
    form = request.form
    if request.args.get("e") == "timeout":
        return CallerInput(timed_out=True)
    recording = None
    if form.get("RecordingSid"):
        recording = {
            "sid": form["RecordingSid"],
            "url": form.get("RecordingUrl", ""),
            "duration": form.get("RecordingDuration", ""),
        }
    digits = form.get("Digits")
    if digits is None and form.get("DialCallStatus"):
        digits = ""
    return CallerInput(digits=digits, speech=form.get("SpeechResult"), recording=recording)


def _int(value: str | None) -> int | None:
    # At most 9 digits: a 32-bit column holds it (a longer count is no real value).
    if value and len(value) < 10 and value.isascii() and value.isdigit():
        return int(value)
    return None


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value).astimezone(UTC)
    except (TypeError, ValueError):
        return None


def _parse_iso(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
