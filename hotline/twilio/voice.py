"""Twilio voice webhooks: thin handlers over the IVR engine, the actions and the call log.

Each handler reads Twilio's form into typed values, asks the engine, runs the actions it names,
logs the events and renders TwiML. They are served by :mod:`hotline.twilio.router` straight from
WSGI, which checks the signature first; whatever fails inside, the caller hears an apology in
Thai and is put through to agents: never a 5xx, never silence.
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

from flask import Flask

from hotline.background.recordings import note_recording
from hotline.calls.buffer import BatchingWriter, CallLogWriter, DirectWriter, RedisWriter
from hotline.calls.kinds import CallEventKind
from hotline.calls.log import LogEntry
from hotline.runtime import Runtime
from hotline.twilio.actions import ACTIONS, VALIDATORS, CallInfo, file_ticket_for_call, filed_entry
from hotline.twilio.agent import note_queued_call
from hotline.twilio.router import Route, TwilioWebhooks, WebhookRequest
from hotline.twilio.security import EMPTY_TWIML, SIGNATURE_KEY, SignatureCheck
from hotline.twilio.state import StateCodec, StateError
from ivr_flows import engine
from ivr_flows.engine import Act, CallerInput, CallState, Context, Event, Outcome, Play
from ivr_flows.loader import load_flow
from ivr_flows.model import Flow, Prompt
from ivr_flows.render import Renderer, Voice
from ticketing.reference import cached_reference_data, reference_data

log = logging.getLogger(__name__)
EXTENSION_KEY = "hotline.ivr"
WEBHOOKS_KEY = "hotline.twilio.voice-webhooks"
_HOLD_FALLBACK = '<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="20" /></Response>'
APOLOGY = "ขออภัยค่ะ ระบบขัดข้องชั่วคราว ระบบจะโอนสายไปยังเจ้าหน้าที่ กรุณาถือสายรอสักครู่ค่ะ"


class Urls:
    """Where Twilio should come back to, each URL carrying the sealed call state."""

    def __init__(self, base_url: str, codec: StateCodec) -> None:
        self.base_url = base_url.rstrip("/")
        self._codec = codec
        self._last = threading.local()

    def seal(self, state: CallState) -> str:
        """The state's token, sealed once even when several URLs of one answer carry it. The
        memo holds the state weakly: a caller's data is not kept once the answer is sent."""
        last = getattr(self._last, "sealed", None)
        if last is not None and last[0]() is state:
            token: str = last[1]
            return token
        token = self._codec.encode(state)
        self._last.sealed = (weakref.ref(state), token)
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


STATE_MARK = "~STATE~"  # stands for the sealed state in a stored answer ("~" is not base64url)


class _MarkedUrls(Urls):
    """The app's URLs with STATE_MARK where each call's sealed state goes."""

    def seal(self, state: CallState) -> str:
        return STATE_MARK


class Answers:
    """What the caller hears, rendered once per node when nothing in it depends on the call but
    its sealed state.

    Most steps land on a plain node: a menu, the recording, the queue, whose prompts (and the
    lead-in prompts before them, such as an information message) carry no call data. Its TwiML
    then differs from call to call only in the state sealed into its URLs, so it is rendered
    once with a mark there and each answer is one ``str.replace``: building the same document
    again was a fifth of a menu step's CPU. Anything with call data in it (a read-back, a
    prompt that names the caller's district) is rendered afresh. The flow's nodes and prompts
    are finite, so the store is bounded.
    """

    def __init__(self, renderer: Renderer, marked: Renderer, urls: Urls) -> None:
        self._renderer = renderer
        self._marked = marked
        self._urls = urls
        self._plain = {name for name, node in renderer.flow.nodes.items()
                       if _plain(node.prompt) and _plain(node.confirm)}  # fmt: skip
        self._stored: dict[tuple[str, bool, tuple[Prompt, ...]], str] = {}

    def text(self, play: Play) -> str:
        state = play.state
        if state.node not in self._plain or not all(_plain(p) for p in play.lead_in):
            return str(self._renderer.play(play))
        key = (state.node, state.confirming is None, play.lead_in)
        stored = self._stored.get(key)
        if stored is None:
            stored = self._stored[key] = str(self._marked.play(play))
        return stored.replace(STATE_MARK, self._urls.seal(state))


def _plain(prompt: Prompt) -> bool:
    """No call data is filled into it (and it cannot be mistaken for the mark)."""
    return "{" not in prompt.text and STATE_MARK not in prompt.text


@dataclass(frozen=True)
class Ivr:
    """The IVR parts of one app, built once: the flow, the renderer, the state codec, the log."""

    flow: Flow
    codec: StateCodec
    urls: Urls
    renderer: Renderer
    writer: CallLogWriter
    answers: Answers


def init_voice(app: Flask, rt: Runtime) -> None:
    """Build the IVR and serve its webhooks in front of the Flask app."""
    settings = rt.settings
    flow = load_flow(settings.ivr_flow)
    codec = StateCodec(settings.secret_key)
    urls = Urls(settings.public_base_url, codec)
    voice = Voice(settings.tts_voice, settings.tts_language)
    renderer = Renderer(flow, voice, urls, settings.recording_max_seconds)
    marked = Renderer(flow, voice, _MarkedUrls(settings.public_base_url, codec),
                      settings.recording_max_seconds)  # fmt: skip
    answers = Answers(renderer, marked, urls)
    ivr = Ivr(flow, codec, urls, renderer, call_log_writer(rt), answers)
    check = SignatureCheck(settings)
    app.extensions[EXTENSION_KEY] = ivr
    app.extensions[SIGNATURE_KEY] = check  # the Flask-served Twilio blueprints' hook uses it
    webhooks = TwilioWebhooks(
        app.wsgi_app,
        VoiceWebhooks(ivr, rt).routes(),
        public_base_url=settings.public_base_url,
        verify=check.valid if settings.twilio_signature_check else None,
        max_content_length=app.config["MAX_CONTENT_LENGTH"],
    )
    app.extensions[WEBHOOKS_KEY] = webhooks
    app.wsgi_app = webhooks  # type: ignore[method-assign]


def call_log_writer(rt: Runtime) -> CallLogWriter:
    """Direct writes when embedded; in production a Redis buffer, fed in small batches."""
    direct = DirectWriter(rt.db)
    if rt.redis is None:
        return direct
    buffered = RedisWriter(rt.redis, direct)
    interval_ms = rt.settings.call_log_batch_ms
    return BatchingWriter(buffered, interval_ms / 1000) if interval_ms else buffered


class VoiceWebhooks:
    """The handlers of one app's IVR: each takes Twilio's request and answers TwiML."""

    def __init__(self, ivr: Ivr, rt: Runtime) -> None:
        self.ivr = ivr
        self.rt = rt

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
            "/twilio/status": Route(self.status, empty),
            "/twilio/fallback": Route(self.fallback, apology),
        }

    # Webhooks -----------------------------------------------------------------------------

    def incoming(self, request: WebhookRequest) -> str:
        """A call comes in: open the call log and play the flow's start."""
        ivr, rt, call = self.ivr, self.rt, self._call_info(request)
        form = request.form
        sid = call.call_sid
        started = LogEntry(
            sid, CallEventKind.CALL_STARTED, call.now, dedupe_key=f"{sid}:started",
            data={"from_number": call.caller, "from_raw": form.get("From", ""),
                  "to_number": form.get("To", ""), "direction": form.get("Direction", "inbound")},
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
            ticket = file_ticket_for_call(
                rt, call.call_sid, call.caller, data, call.now, look_first=True
            )
            self.ivr.writer.write([filed_entry(call, ticket.number)])
        note_recording(rt.uow(), sid, call.call_sid, status, data)
        return EMPTY_TWIML

    def queue_result(self, request: WebhookRequest) -> str:
        """The caller left the agent queue: bridged and done, hung up while waiting, or an
        error."""
        ivr, rt, call = self.ivr, self.rt, self._call_info(request)
        state = self._state(request)
        result = request.form.get("QueueResult", "")
        wait_s = _int(request.form.get("QueueTime"))
        entries = _queue_entries(call, state, result, wait_s)
        if result == "bridged":
            after = engine.after_queue(ivr.flow, state, True, _context(rt, call))
            if after is not None:
                return self._respond(call, after, key=f"queue:{state.step}", entries=entries)
        ivr.writer.write(entries)
        if result in ("hangup", "bridged", "redirected", "leave"):
            return EMPTY_TWIML
        # queue-full, error, system-error: no agent can take the call; offer what still works.
        outcome = engine.goto(ivr.flow, state, ivr.flow.after_hours_agent, _context(rt, call))
        return self._respond(call, outcome, key=f"queue:{state.step}", entries=[])

    def wait(self, request: WebhookRequest) -> str:
        """Hold messages for a queued caller, with their place in the queue."""
        state = self._state(request)
        position = request.form.get("QueuePosition", "")
        node = self.ivr.flow.node(state.node)
        return str(self.ivr.renderer.hold(node, {**state.data, "queue_position": position}))

    def status(self, request: WebhookRequest) -> str:
        """Call progress from Twilio; closes the call. Replies with empty TwiML, whatever
        happens."""
        form = request.form
        call_sid = form.get("CallSid", "")
        at = _timestamp(form.get("Timestamp")) or datetime.now(UTC)
        entry = LogEntry(call_sid, CallEventKind.CALL_STATUS, at, value=form.get("CallStatus", ""),
                         data={"sequence": _int(form.get("SequenceNumber")),
                               "duration": _int(form.get("CallDuration"))})  # fmt: skip
        if call_sid:
            self.ivr.writer.write([entry])
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
            agent_state = CallState(node=ivr.flow.agent)
            action = ivr.urls.queue_result(agent_state)
            response = ivr.renderer.apology(APOLOGY, self._queue_name(), action)
            if request.call_sid:  # show the caller in the agents' live queue too
                note_queued_call(self.rt, self._call_info(request), {}, self._queue_name())
        except Exception:  # even the apology failed: plain TwiML needs nothing but a string
            log.exception("apology TwiML failed")
            return (
                '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="th-TH">'
                f"{APOLOGY}</Say><Enqueue>agents</Enqueue></Response>"
            )
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
        play = self._with_queue_time(play, call)
        collected.extend(_event_entries(call, key, events))
        ivr.writer.write(collected)
        return ivr.answers.text(play)

    def _with_queue_time(self, play: Play, call: CallInfo) -> Play:
        if self.ivr.flow.node(play.state.node).kind != "enqueue":
            return play
        queued = play.state.with_data(queued_at=call.now.isoformat())
        # The agents' live queue, at once: an agent may be bridged to this caller in a second.
        note_queued_call(self.rt, call, queued.data, self._queue_name())
        return replace(play, state=queued)

    def _queue_name(self) -> str:
        return self.ivr.flow.node(self.ivr.flow.agent).queue or "agents"

    def _call_info(self, request: WebhookRequest) -> CallInfo:
        form = request.form
        return CallInfo(form.get("CallSid", ""), form.get("From", ""), self.rt.clock())

    def _state(self, request: WebhookRequest) -> CallState:
        token = request.args.get("s", "")
        try:
            state = self.ivr.codec.decode(token)
        except StateError:
            log.warning("refused an IVR state token that is forged, corrupted or expired")
            raise
        if state.node not in self.ivr.flow.nodes:  # a flow deployed mid-call dropped this node
            return CallState(node=self.ivr.flow.start, step=state.step, data=state.data)
        return state


def _empty(_request: WebhookRequest) -> str:
    return EMPTY_TWIML


def _hold_fallback(_request: WebhookRequest) -> str:
    return _HOLD_FALLBACK


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
