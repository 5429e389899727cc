"""Twilio voice webhooks: thin views over the IVR engine, the actions and the call log.

Every view verifies the signature (blueprint hook), reads the form into typed values, asks the
engine, runs the actions it names, logs the events and renders TwiML. Whatever fails inside, the
caller hears an apology in Thai and is put through to agents: never a 5xx, never silence.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, has_request_context, request

from config.logging import log_context
from hotline.agent_voice import note_queued_call
from hotline.callevents import (
    CALL_STARTED,
    CALL_STATUS,
    BatchingWriter,
    CallLogWriter,
    DirectWriter,
    LogEntry,
    RedisWriter,
)
from hotline.ivr_actions import ACTIONS, VALIDATORS, CallInfo, file_ticket_for_call, filed_entry
from hotline.ivr_state import StateCodec, StateError
from hotline.recording_jobs import note_recording
from hotline.runtime import Runtime, runtime
from hotline.twilio_security import (
    SIGNATURE_KEY,
    SignatureCheck,
    check_twilio_signature,
    empty_twiml,
    never_fails,
    twiml,
)
from ivr_flows import engine
from ivr_flows.engine import Act, CallerInput, CallState, Context, Event, Outcome, Play
from ivr_flows.loader import load_flow
from ivr_flows.model import Flow
from ivr_flows.render import Renderer, Voice
from ticketing.reference import cached_reference_data, reference_data

bp = Blueprint("voice", __name__, url_prefix="/twilio")
log = logging.getLogger(__name__)
EXTENSION_KEY = "hotline.ivr"
_HOLD_FALLBACK = '<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="20" /></Response>'
APOLOGY = "ขออภัยค่ะ ระบบขัดข้องชั่วคราว ระบบจะโอนสายไปยังเจ้าหน้าที่ กรุณาถือสายรอสักครู่ค่ะ"


class Urls:
    """Where Twilio should come back to, each URL carrying the sealed call state."""

    def __init__(self, base_url: str, codec: StateCodec) -> None:
        self.base_url = base_url.rstrip("/")
        self._codec = codec

    def seal(self, state: CallState) -> str:
        """The state's token, sealed once per request even when several URLs carry it."""
        memo = g.setdefault("sealed_states", {}) if has_request_context() else {}
        key = id(state)
        if key not in memo or memo[key][0] is not state:
            memo[key] = (state, self._codec.encode(state))
        token: str = memo[key][1]
        return token

    def to(self, path: str, state: CallState | None = None, **extra: str) -> str:
        # Sealed tokens are URL-safe base64 already: no percent-encoding pass needed.
        parts = [f"s={self.seal(state)}"] if state is not None else []
        parts += [f"{k}={v}" for k, v in extra.items() if v]  # our own plain ASCII values
        query = "&".join(parts)
        return f"{self.base_url}/twilio/{path}" + (f"?{query}" if query else "")

    def step(self, state: CallState, *, timed_out: bool = False) -> str:
        return self.to("step", state, e="timeout" if timed_out else "")

    def recording_status(self, state: CallState) -> str:
        return self.to("recording-status", state)

    def queue_result(self, state: CallState) -> str:
        return self.to("queue-result", state)

    def wait(self, state: CallState) -> str:
        return self.to("wait", state)

    def audio(self, path: str) -> str:
        return path if "://" in path else f"{self.base_url}/{path.lstrip('/')}"


@dataclass(frozen=True)
class Ivr:
    """The IVR parts of one app, built once: the flow, the renderer, the state codec, the log."""

    flow: Flow
    codec: StateCodec
    urls: Urls
    renderer: Renderer
    writer: CallLogWriter


def init_voice(app: Flask, rt: Runtime) -> None:
    settings = rt.settings
    flow = load_flow(settings.ivr_flow)
    codec = StateCodec(settings.secret_key)
    urls = Urls(settings.public_base_url, codec)
    voice = Voice(settings.tts_voice, settings.tts_language)
    renderer = Renderer(flow, voice, urls, settings.recording_max_seconds)
    writer = call_log_writer(rt)
    app.extensions[EXTENSION_KEY] = Ivr(flow, codec, urls, renderer, writer)
    app.extensions[SIGNATURE_KEY] = SignatureCheck(settings)
    app.register_blueprint(bp)


bp.before_request(check_twilio_signature)


def call_log_writer(rt: Runtime) -> CallLogWriter:
    """Direct writes when embedded; in production a Redis buffer, fed in small batches."""
    direct = DirectWriter(rt.db)
    if rt.redis is None:
        return direct
    buffered = RedisWriter(rt.redis, direct)
    interval_ms = rt.settings.call_log_batch_ms
    return BatchingWriter(buffered, interval_ms / 1000) if interval_ms else buffered


def _ivr() -> Ivr:
    ivr: Ivr = current_app.extensions[EXTENSION_KEY]
    return ivr


# Never a 5xx ------------------------------------------------------------------------------


def answers_twiml(view: Callable[..., Response]) -> Callable[..., Response]:
    """Turn any failure inside a voice webhook into an apology and a place in the queue."""
    return never_fails(apology)(view)


def holds_on_failure(view: Callable[..., Response]) -> Callable[..., Response]:
    """For the hold URL: the caller is already queued, so a failure only pauses the music
    (<Enqueue> is not allowed in a waitUrl answer)."""
    return never_fails(lambda: twiml(_HOLD_FALLBACK))(view)


def acknowledges_on_failure(view: Callable[..., Response]) -> Callable[..., Response]:
    """For callbacks that play nothing: a failure still answers empty TwiML."""
    return never_fails(empty_twiml)(view)


def apology() -> Response:
    try:
        ivr = _ivr()
        agent_state = CallState(node=ivr.flow.agent)
        action = ivr.urls.queue_result(agent_state)
        response = ivr.renderer.apology(APOLOGY, _queue_name(ivr), action)
        _note_apology_queued(ivr)
    except Exception:  # even the apology failed: plain TwiML needs nothing but a string
        log.exception("apology TwiML failed")
        return twiml(
            '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="th-TH">'
            f"{APOLOGY}</Say><Enqueue>agents</Enqueue></Response>"
        )
    return twiml(response)


def _note_apology_queued(ivr: Ivr) -> None:
    """Show the apologised-to caller in the agents' live queue too (never raises)."""
    if has_request_context() and request.form.get("CallSid"):
        note_queued_call(_call_info(), {}, _queue_name(ivr))


def _queue_name(ivr: Ivr) -> str:
    return ivr.flow.node(ivr.flow.agent).queue or "agents"


# Webhooks ---------------------------------------------------------------------------------


@bp.post("/voice")
@answers_twiml
def incoming() -> Response:
    """A call comes in: open the call log and play the flow's start."""
    ivr, rt, call = _ivr(), runtime(), _call_info()
    form = request.form
    started = LogEntry(
        call.call_sid, CALL_STARTED, call.now, dedupe_key=f"{call.call_sid}:started",
        data={"from_number": call.caller, "from_raw": form.get("From", ""),
              "to_number": form.get("To", ""), "direction": form.get("Direction", "inbound")},
    )  # fmt: skip
    outcome = engine.start(ivr.flow, _context(rt, call))
    return _respond(ivr, rt, call, outcome, key="start", entries=[started])


@bp.post("/step")
@answers_twiml
def step() -> Response:
    """The caller answered a node (keys, speech, a recording, a dial result or a time-out)."""
    ivr, rt, call = _ivr(), runtime(), _call_info()
    state = _state(ivr)
    outcome = engine.handle(ivr.flow, state, _caller_input(), _context(rt, call))
    return _respond(ivr, rt, call, outcome, key=str(state.step))


@bp.post("/recording-status")
@acknowledges_on_failure
def recording_status() -> Response:
    """Twilio has (or failed to make) the caller's recording: keep it with the call's ticket."""
    ivr, rt, call = _ivr(), runtime(), _call_info()
    form = request.form
    sid, status = form.get("RecordingSid", ""), form.get("RecordingStatus", "")
    if not sid:
        return empty_twiml()
    # Agent-call recordings (<Dial record>) come without IVR state; the caller's <Record> has it.
    ivr_data = _state(ivr).data if request.args.get("s") else {}
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
        ticket = file_ticket_for_call(
            rt, call.call_sid, call.caller, data, call.now, look_first=True
        )
        ivr.writer.write([filed_entry(call, ticket.number)])
    note_recording(rt.uow(), sid, call.call_sid, status, data)
    return empty_twiml()


@bp.post("/queue-result")
@answers_twiml
def queue_result() -> Response:
    """The caller left the agent queue: bridged and done, hung up while waiting, or an error."""
    ivr, rt, call = _ivr(), runtime(), _call_info()
    state = _state(ivr)
    result = request.form.get("QueueResult", "")
    wait_s = _int(request.form.get("QueueTime"))
    entries = _queue_entries(call, state, result, wait_s)
    if result == "bridged":
        after = engine.after_queue(ivr.flow, state, True, _context(rt, call))
        if after is not None:
            return _respond(ivr, rt, call, after, key=f"queue:{state.step}", entries=entries)
    ivr.writer.write(entries)
    if result in ("hangup", "bridged", "redirected", "leave"):
        return empty_twiml()
    # queue-full, error, system-error: no agent can take the call; offer what still works.
    outcome = engine.goto(ivr.flow, state, ivr.flow.after_hours_agent, _context(rt, call))
    return _respond(ivr, rt, call, outcome, key=f"queue:{state.step}", entries=[])


@bp.post("/wait")
@holds_on_failure
def wait() -> Response:
    """Hold messages for a queued caller, with their place in the queue."""
    ivr = _ivr()
    state = _state(ivr)
    position = request.form.get("QueuePosition", "")
    node = ivr.flow.node(state.node)
    return twiml(ivr.renderer.hold(node, {**state.data, "queue_position": position}))


@bp.post("/status")
def status() -> Response:
    """Call progress from Twilio; closes the call. Replies with empty TwiML, whatever happens."""
    form = request.form
    call_sid = form.get("CallSid", "")
    with log_context(call_sid=call_sid or None):
        try:
            at = _timestamp(form.get("Timestamp")) or datetime.now(UTC)
            entry = LogEntry(call_sid, CALL_STATUS, at, value=form.get("CallStatus", ""),
                             data={"sequence": _int(form.get("SequenceNumber")),
                                   "duration": _int(form.get("CallDuration"))})  # fmt: skip
            if call_sid:
                _ivr().writer.write([entry])
        except Exception:
            log.exception("could not log call status")
    return empty_twiml()


@bp.post("/fallback")
def fallback() -> Response:
    """Twilio could not get TwiML from /twilio/voice: apologise and queue the caller."""
    form = request.form
    context = {"call_sid": form.get("CallSid")}
    log.error("Twilio fallback: error %s at %s", form.get("ErrorCode"), form.get("ErrorUrl"),
              extra=context)  # fmt: skip
    return apology()


# Steps shared by the views -----------------------------------------------------------------


def _respond(
    ivr: Ivr,
    rt: Runtime,
    call: CallInfo,
    outcome: Outcome,
    *,
    key: str,
    entries: Sequence[LogEntry] = (),
) -> Response:
    """Run the actions the engine asks for, log everything, and render what the caller hears."""
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
    play = _with_queue_time(ivr, replace(outcome, lead_in=(*spoken, *outcome.lead_in)), call)
    collected.extend(_event_entries(call, key, events))
    ivr.writer.write(collected)
    return twiml(ivr.renderer.play(play))


def _with_queue_time(ivr: Ivr, play: Play, call: CallInfo) -> Play:
    node_kind = ivr.flow.node(play.state.node).kind
    if node_kind != "enqueue":
        return play
    queued = play.state.with_data(queued_at=call.now.isoformat())
    note_queued_call(call, queued.data, _queue_name(ivr))  # the agents' live queue, at once
    return replace(play, state=queued)


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
            LogEntry(sid, "connect", connected, state.node, dedupe_key=f"{sid}:connect", data=data),
            LogEntry(sid, "complete", call.now, state.node, "agent", dedupe_key=f"{sid}:agent_done",
                     data=data),
        ]  # fmt: skip
    if result == "hangup":
        return [
            LogEntry(sid, "abandon", call.now, state.node, dedupe_key=f"{sid}:abandon", data=data)
        ]
    return [
        LogEntry(
            sid, "queue_error", call.now, state.node, result, dedupe_key=f"{sid}:queue:{result}"
        )
    ]


def _call_info() -> CallInfo:
    form = request.form
    return CallInfo(form.get("CallSid", ""), form.get("From", ""), runtime().clock())


def _context(rt: Runtime, call: CallInfo) -> Context:
    reference = cached_reference_data(rt.db.memo)
    if reference is None:
        with rt.uow() as uow:
            reference = reference_data(uow)
    return Context(now=call.now, holidays=reference.holidays, validators=VALIDATORS)


def _state(ivr: Ivr) -> CallState:
    token = request.args.get("s", "")
    try:
        state = ivr.codec.decode(token)
    except StateError:
        log.warning("refused an IVR state token that is forged, corrupted or expired")
        raise
    if state.node not in ivr.flow.nodes:  # a flow deployed mid-call dropped this node
        return CallState(node=ivr.flow.start, step=state.step, data=state.data)
    return state


def _caller_input() -> CallerInput:
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
    return int(value) if value and value.isascii() and value.isdigit() else None


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
