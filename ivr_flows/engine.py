"""The IVR engine: (flow, call state, caller input) → what the caller hears next.

Pure: no HTTP, no database, no clock of its own. The application passes the time, the holidays,
the validators and the results of actions; the engine answers with a :class:`Play` (render
this node, after these lead-in prompts) or an :class:`Act` (run this action, then call
:func:`resume`). Either way it lists the call events to log. The same state and the same input
always give the same answer, which is what makes replayed webhooks harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from ivr_flows.model import Flow, Node, Prompt

MAX_CHAIN = 40  # nodes entered in one request; a longer chain is a loop in the flow
AGENT_KEY = "0"
REPEAT_KEY = "*"
CONFIRM_YES, CONFIRM_NO = "1", "2"
MASKED_VALIDATORS = frozenset({"citizen_id", "phone"})
UNKNOWN_KEY = "#"
MORE_KEY = "9"  # the next page of a pick list
PICK_PAGE = "_pick_page"  # in the call's data while the caller picks one of several places
CHOICES = "choices"  # the page's spoken list, for the node's ``pick`` prompt
PICK_PER_PAGE = 5  # a list longer than this is read 4 at a time, 9 for the next page


@dataclass(frozen=True, slots=True, weakref_slot=True)  # weakly memoised when sealed
class CallState:
    """Everything the IVR remembers about a call; it travels with the call in the step URLs."""

    node: str
    step: int = 0
    failures: int = 0
    confirming: str | None = None
    after_hours: bool = False
    strikes: int = 0  # failures over the whole call: a silent line must end some time
    data: Mapping[str, str] = field(default_factory=dict)
    # The application's, carried unchanged from step to step: the call the state belongs to
    # (its CallSid) and when its first state was sealed (epoch s), so a replayed step seals
    # the same bytes and a state cannot be moved to another call.
    call: str = ""
    since: int = 0

    def with_data(self, **values: str) -> CallState:
        return replace(self, data={**self.data, **values})


@dataclass(frozen=True, slots=True)
class CallerInput:
    """What came back from the caller: keys, speech, a recording, or nothing (time-out)."""

    digits: str | None = None
    speech: str | None = None
    recording: Mapping[str, str] | None = None
    timed_out: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    node: str
    value: str | None = None


@dataclass(frozen=True, slots=True)
class Option:
    """One of several things a keyed value may mean (a postal code's districts): how it is
    read in the pick list, and the data it sets when picked."""

    label: str
    vars: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Validation:
    ok: bool
    value: str = ""
    vars: Mapping[str, str] = field(default_factory=dict)
    # Several: the caller picks one (the node's ``pick`` prompt); one: its vars apply at once.
    options: tuple[Option, ...] = ()


Validator = Callable[[str], Validation]


@dataclass(frozen=True, slots=True)
class Context:
    now: datetime
    holidays: frozenset[date] = frozenset()
    validators: Mapping[str, Validator] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Play:
    """Render ``state.node`` (or its confirmation), preceded by ``lead_in`` prompts."""

    state: CallState
    lead_in: tuple[Prompt, ...] = ()
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class Act:
    """Run ``action`` for the call, then pass its result to :func:`resume`."""

    state: CallState
    action: str
    lead_in: tuple[Prompt, ...] = ()
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionResult:
    result: str = "ok"
    data: Mapping[str, str] = field(default_factory=dict)


Outcome = Play | Act


class FlowLoopError(RuntimeError):
    """The flow chains too many nodes without waiting for the caller."""


# Entry points ---------------------------------------------------------------------------


def start(flow: Flow, ctx: Context, data: Mapping[str, str] | None = None) -> Outcome:
    """The first answer of a call."""
    return _enter(flow, CallState(node=flow.start, data=dict(data or {})), ctx)


def handle(flow: Flow, state: CallState, given: CallerInput, ctx: Context) -> Outcome:
    """The caller answered the node in ``state``; decide what comes next."""
    node = flow.node(state.node)
    state = replace(state, step=state.step + 1)
    optional_collect = node.kind == "collect" and node.optional and state.confirming is None
    if given.timed_out and node.kind != "survey" and not optional_collect:
        return _fail(flow, state, ctx, "ivr_no_input", None)
    match node.kind:
        case "menu":
            return _menu(flow, node, state, given, ctx)
        case "survey":
            return _survey(flow, node, state, given, ctx)
        case "collect":
            return _collect(flow, node, state, given, ctx)
        case "record":
            return _record(flow, node, state, given, ctx)
        case "transfer":
            return _enter(flow, state, ctx, to=node.next or _agent(flow, state))
    # Nodes that expect no input (say, hangup, enqueue): play them again.
    return Play(state)


def resume(flow: Flow, state: CallState, result: ActionResult, ctx: Context) -> Outcome:
    """An action finished: remember its data and follow the branch for its result."""
    node = flow.node(state.node)
    state = replace(state, step=state.step + 1).with_data(**result.data)
    target = node.results.get(result.result) or (node.next if result.result == "ok" else None)
    return _enter(flow, state, ctx, to=target or _agent(flow, state))


def after_queue(flow: Flow, state: CallState, bridged: bool, ctx: Context) -> Outcome | None:
    """The caller's time with the agents ended; go on to the node after it, if any."""
    node = flow.node(state.node)
    if not bridged or not node.after:
        return None
    return _enter(flow, replace(state, step=state.step + 1), ctx, to=node.after)


def left_queue(flow: Flow, state: CallState, result: str, ctx: Context) -> Outcome:
    """The caller is out of the queue without an agent: they chose to stop waiting or waited
    too long (``leave``), or the queue is full or failed (``busy``). Neither is told the
    centre is closed: that is the after-hours agent's message, and it would be untrue."""
    node = flow.node(state.node)
    target = node.leave if result == "leave" else node.busy
    return goto(flow, state, target or flow.after_hours_agent, ctx)


def goto(flow: Flow, state: CallState, node_id: str, ctx: Context) -> Outcome:
    """Move the call to ``node_id`` on the application's behalf (e.g. no agent can answer)."""
    return _enter(flow, replace(state, step=state.step + 1), ctx, to=node_id)


def repeat(state: CallState) -> Play:
    """Play the node again (the caller pressed *); ``handle`` has already counted the step."""
    return Play(replace(state, confirming=None))


# Node handlers ----------------------------------------------------------------------------


def _menu(flow: Flow, node: Node, state: CallState, given: CallerInput, ctx: Context) -> Outcome:
    key = _key(node, given)
    if key == REPEAT_KEY:
        return repeat(state)
    if key == AGENT_KEY:
        return _to_agent(flow, state, ctx, key)
    choice = node.options.get(key or "")
    if choice is None:
        return _fail(flow, state, ctx, "ivr_invalid", key)
    event = Event("ivr_input", node.id, key)
    return _enter(flow, state.with_data(**choice.sets), ctx, to=choice.target, events=(event,))


def _survey(flow: Flow, node: Node, state: CallState, given: CallerInput, ctx: Context) -> Outcome:
    key = _key(node, given) or ""
    if key == REPEAT_KEY:
        return repeat(state)
    if key == AGENT_KEY:
        return _to_agent(flow, state, ctx, key)
    if key not in "12345" or len(key) != 1:
        kind = "ivr_no_input" if given.timed_out else "ivr_invalid"
        if state.failures + 1 >= flow.max_failures:  # nobody is sent to an agent over a survey
            skipped = (Event(kind, node.id, key or None),)
            return _enter(flow, state, ctx, to=node.next, events=skipped)
        return _fail(flow, state, ctx, kind, key or None)
    events = (Event("ivr_input", node.id, key), Event("survey_answer", node.id, key))
    stored = state.with_data(**{node.store or "survey": key})
    return _enter(flow, stored, ctx, to=node.next, events=events)


def _collect(flow: Flow, node: Node, state: CallState, given: CallerInput, ctx: Context) -> Outcome:
    digits = (given.digits or "").strip()
    if state.confirming is not None:
        return _confirm(flow, node, state, digits, ctx)
    if digits == REPEAT_KEY:
        return repeat(state)
    if digits == AGENT_KEY:
        return _to_agent(flow, state, ctx, digits)
    if node.unknown and digits in ("", UNKNOWN_KEY):
        return _unknown(flow, node, state, ctx)
    if node.optional and (digits in ("", "#") or given.timed_out):
        skipped = Event("ivr_input", node.id, "skip")
        return _enter(flow, state, ctx, to=node.next, events=(skipped,))
    checked = _validate(node, digits, ctx)
    if not checked.ok:
        return _fail(flow, state, ctx, "ivr_invalid", _masked(node, digits))
    accepted = state.with_data(**checked.vars)
    if len(checked.options) > 1 and node.pick:
        picking = replace(accepted, confirming=checked.value, failures=0)
        return Play(_pick_page(picking, checked.options, 0))
    if checked.options:
        accepted = accepted.with_data(**checked.options[0].vars)
    if node.confirm:
        return Play(replace(accepted, confirming=checked.value, failures=0))
    return _accept(flow, node, accepted, checked.value, ctx)


def _validate(node: Node, digits: str, ctx: Context) -> Validation:
    validator = ctx.validators.get(node.validator or "")
    return validator(digits) if validator else Validation(digits.isdecimal(), digits)


def _unknown(flow: Flow, node: Node, state: CallState, ctx: Context) -> Outcome:
    """The caller does not know the value (or which place it is): go on, and say so in the
    data (``<store>_unknown``) so whoever files the complaint flags it for an agent."""
    store = node.store or node.id
    known = _without_pick(state).with_data(**{f"{store}_unknown": "1"})
    event = Event("ivr_input", node.id, "unknown")
    return _enter(flow, known, ctx, to=node.next, events=(event,))


def _pick_page(state: CallState, options: tuple[Option, ...], page: int) -> CallState:
    """The state that reads page ``page`` of the options: "A กด 1 … B กด 4 (อื่น ๆ กด 9)"."""
    per = PICK_PER_PAGE if len(options) <= PICK_PER_PAGE else PICK_PER_PAGE - 1
    shown = options[page * per : (page + 1) * per]
    spoken = [f"{option.label} กด {i}" for i, option in enumerate(shown, start=1)]
    if len(options) > per:
        spoken.append(f"อำเภออื่น กด {MORE_KEY}")
    return state.with_data(**{PICK_PAGE: str(page), CHOICES: " ".join(spoken)})


def _without_pick(state: CallState) -> CallState:
    data = {k: v for k, v in state.data.items() if k not in (PICK_PAGE, CHOICES)}
    return replace(state, data=data, confirming=None)


def _pick(flow: Flow, node: Node, state: CallState, key: str, ctx: Context) -> Outcome:
    """The caller picks one of the places a value names, by its key."""
    options = _validate(node, state.confirming or "", ctx).options
    page = int(state.data.get(PICK_PAGE, "0"))
    per = PICK_PER_PAGE if len(options) <= PICK_PER_PAGE else PICK_PER_PAGE - 1
    shown = options[page * per : (page + 1) * per]
    if key == REPEAT_KEY:
        return Play(state)
    if key == AGENT_KEY:
        return _to_agent(flow, _without_pick(state), ctx, key)
    if key in ("", UNKNOWN_KEY) and node.unknown:  # "#" alone reaches the action empty
        return _unknown(flow, node, state, ctx)
    if key == MORE_KEY and len(options) > per:
        following = page + 1 if (page + 1) * per < len(options) else 0
        return Play(_pick_page(replace(state, failures=0), options, following))
    if key.isdecimal() and 1 <= int(key) <= len(shown):
        value = state.confirming or ""
        picked = _without_pick(state).with_data(**shown[int(key) - 1].vars)
        return _accept(flow, node, picked, value, ctx)
    return _fail(flow, state, ctx, "ivr_invalid", key, generic=True)


def _confirm(flow: Flow, node: Node, state: CallState, key: str, ctx: Context) -> Outcome:
    if PICK_PAGE in state.data:
        return _pick(flow, node, state, key, ctx)
    value = state.confirming or ""
    if key == CONFIRM_YES:
        return _accept(flow, node, replace(state, confirming=None), value, ctx)
    if key == CONFIRM_NO:
        retry = Event("ivr_input", node.id, "retry")
        return Play(replace(state, confirming=None, failures=0), events=(retry,))
    if key == AGENT_KEY:
        return _to_agent(flow, replace(state, confirming=None), ctx, key)
    # Not the node's own "invalid" prompt: that one speaks of the value, not of the 1/2 choice.
    return _fail(flow, state, ctx, "ivr_invalid", key, generic=True)


def _accept(flow: Flow, node: Node, state: CallState, value: str, ctx: Context) -> Outcome:
    event = Event("ivr_input", node.id, _masked(node, value))
    store = node.store or node.id
    known = {f"{store}_unknown": ""} if node.unknown else {}  # a correction forgets "unknown"
    stored = state.with_data(**{store: value}, **known)
    return _enter(flow, stored, ctx, to=node.next, events=(event,))


def _record(flow: Flow, node: Node, state: CallState, given: CallerInput, ctx: Context) -> Outcome:
    recording = given.recording or {}
    if not recording.get("sid"):
        return _fail(flow, state, ctx, "ivr_no_input", None)
    prefix = node.store or "recording"
    values = {f"{prefix}_{k}": v for k, v in recording.items()}
    event = Event("ivr_input", node.id, "recorded")
    return _enter(flow, state.with_data(**values), ctx, to=node.next, events=(event,))


# Moving between nodes -------------------------------------------------------------------


def _enter(
    flow: Flow,
    state: CallState,
    ctx: Context,
    *,
    to: str | None = None,
    lead_in: tuple[Prompt, ...] = (),
    events: tuple[Event, ...] = (),
) -> Outcome:
    """Enter ``to`` (or the state's node) and run through nodes that need no caller input."""
    node_id = to or state.node
    collected = list(events)
    spoken = list(lead_in)
    for _ in range(MAX_CHAIN):
        node = flow.node(node_id)
        state = replace(state, node=node_id, failures=0, confirming=None)
        collected.append(Event("ivr_enter", node_id))
        if node.kind == "say":
            spoken.append(node.prompt)
            node_id = node.next or _agent(flow, state)
            continue
        if node.kind == "hours":
            is_open = _is_open(flow, ctx)
            state = replace(state, after_hours=not is_open)
            node_id = (node.open if is_open else node.closed) or _agent(flow, state)
            continue
        if node.kind == "action":
            return Act(state, node.action or "", tuple(spoken), tuple(collected))
        if node.kind == "enqueue":
            collected.append(Event("enqueue", node_id, node.queue))
        if node.kind == "transfer":
            collected.append(Event("transfer", node_id, node.number))
        return Play(state, tuple(spoken), tuple(collected))
    raise FlowLoopError(f"{flow.source}: more than {MAX_CHAIN} nodes without caller input")


def _fail(
    flow: Flow,
    state: CallState,
    ctx: Context,
    kind: str,
    value: str | None,
    *,
    generic: bool = False,
) -> Outcome:
    """No input or a wrong key: say so and ask again; after too many, reach an agent.

    A caller who keeps failing — typically after hours, when there is no agent to reach, or a
    line left open — is eventually thanked and the call ends (``give_up``) instead of looping
    for ever.
    """
    failures, strikes = state.failures + 1, state.strikes + 1
    state = replace(state, strikes=strikes)
    event = Event(kind, state.node, value)
    if strikes >= flow.max_total_failures:
        return _enter(flow, state, ctx, to=flow.give_up, events=(event,))
    if failures >= flow.max_failures:
        agent = _agent(flow, state)
        if agent == state.node:  # the agents' own menu (after hours): going round is a loop
            return _enter(flow, state, ctx, to=flow.give_up, events=(event,))
        notice = () if state.after_hours else (flow.transfer_notice,)
        return _enter(flow, state, ctx, to=agent, lead_in=notice, events=(event,))
    node = flow.node(state.node)
    own = None if generic else node.invalid
    sorry = flow.no_input if kind == "ivr_no_input" else (own or flow.invalid)
    return Play(replace(state, failures=failures), lead_in=(sorry,), events=(event,))


def _to_agent(flow: Flow, state: CallState, ctx: Context, key: str) -> Outcome:
    event = Event("ivr_input", state.node, key)
    return _enter(flow, state, ctx, to=_agent(flow, state), events=(event,))


def _agent(flow: Flow, state: CallState) -> str:
    return flow.after_hours_agent if state.after_hours else flow.agent


def _key(node: Node, given: CallerInput) -> str | None:
    if given.digits:
        return given.digits.strip()[:1] if node.kind == "menu" else given.digits.strip()
    if given.speech:
        return _spoken_key(node, given.speech)
    return None


def _spoken_key(node: Node, speech: str) -> str | None:
    """The option whose keyword the caller said first ("ติดตามเรื่องร้องเรียน" → ติดตาม)."""
    heard = speech.replace(" ", "")
    found = [(heard.find(k.replace(" ", "")), key) for k, key in node.speech.items()]
    matches = sorted((position, key) for position, key in found if position >= 0)
    return matches[0][1] if matches else None


def _masked(node: Node, value: str) -> str:
    return "masked" if node.validator in MASKED_VALIDATORS and value else value


def _is_open(flow: Flow, ctx: Context) -> bool:
    hours = flow.hours
    local = ctx.now.astimezone(ZoneInfo(hours.timezone))
    if local.weekday() not in hours.days or (
        hours.holidays_closed and local.date() in ctx.holidays
    ):
        return False
    return hours.open <= local.time() < hours.close
