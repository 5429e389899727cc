"""What one finished call contributes to the supervisor figures (pure: no database, no Flask).

A call's facts come from its row and its events only, so the same function feeds the raw
computation, the rollups and the live tail, and they cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hotline.calls.log import outcome_of

SATISFIED_SCORES = frozenset({"4", "5"})
SELF_SERVICE_KINDS = frozenset({"ticket_filed", "status_heard"})
FUNNEL_EXITS = ("continued", "hung_up", "to_agent")


@dataclass(frozen=True, slots=True)
class Rules:
    """The thresholds the figures are computed with (from settings)."""

    service_level_s: int = 20
    short_abandon_s: int = 5
    survey_nodes: frozenset[str] = frozenset({"survey"})


@dataclass(frozen=True, slots=True)
class CallRow:
    id: int
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None
    twilio_status: str
    from_number: str | None
    agent_id: int | None
    wrapped_up_at: datetime | None = None  # the agent's wrap-up form at the desk


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    kind: str
    node: str | None
    value: str | None
    at: datetime
    data: dict[str, Any] | None


@dataclass(slots=True)
class CallFacts:
    """Counts for one call: each field is 0/1 or seconds, summed by the rollups as they are."""

    calls: int = 1
    offered: int = 0
    answered: int = 0
    answered_in_sl: int = 0
    answer_wait_s: int = 0
    max_wait_s: int = 0
    abandoned_queue: int = 0
    abandoned_in_sl: int = 0
    short_abandons: int = 0
    abandoned_ivr: int = 0
    contained: int = 0
    handled: int = 0
    handle_s: int = 0
    wrap_s: int = 0
    known_callers: int = 0
    repeat_calls: int = 0
    surveys_offered: int = 0
    survey_responses: int = 0
    survey_satisfied: int = 0
    agent_id: int | None = None
    funnel: Counter[tuple[str, str]] = field(default_factory=Counter)


COUNT_FIELDS = (
    "calls", "offered", "answered", "answered_in_sl", "answer_wait_s", "max_wait_s",
    "abandoned_queue", "abandoned_in_sl", "short_abandons", "abandoned_ivr", "contained",
    "handled", "handle_s", "known_callers", "repeat_calls", "surveys_offered",
    "survey_responses", "survey_satisfied", "wrap_s",
)  # fmt: skip
MAX_FIELDS = frozenset({"max_wait_s"})
FUNNEL_FIELDS = ("entered", "continued", "no_input", "invalid", "hung_up", "to_agent")


def call_facts(
    call: CallRow,
    events: Sequence[EventRow],
    rules: Rules,
    *,
    is_repeat: bool,
    wrap_started_at: datetime | None = None,
) -> CallFacts:
    """``wrap_started_at``: when the agent's ``wrap_up`` state began for this call, if known."""
    ordered = sorted(events, key=lambda e: (e.at, e.id))
    kinds = {e.kind for e in ordered}
    facts = CallFacts(agent_id=call.agent_id)
    outcome = call.outcome or outcome_of(kinds, call.twilio_status)
    _queue_facts(facts, ordered, kinds, rules)
    if facts.handled:
        talk, done = _talk(ordered)
        facts.wrap_s = _wrap_s(call, done, wrap_started_at)
        facts.handle_s = talk + facts.wrap_s
    facts.abandoned_ivr = int(outcome == "abandoned_ivr")
    facts.contained = int(outcome == "self_service" and bool(kinds & SELF_SERVICE_KINDS))
    facts.known_callers = int(call.from_number is not None)
    facts.repeat_calls = int(is_repeat and call.from_number is not None)
    _survey_facts(facts, ordered, rules)
    facts.funnel = funnel_steps(ordered)
    return facts


def _queue_facts(
    facts: CallFacts, events: Sequence[EventRow], kinds: set[str], rules: Rules
) -> None:
    if "enqueue" not in kinds:
        return
    facts.offered = 1
    enqueued = _first(events, "enqueue")
    connect = _first(events, "connect")
    if connect is not None:
        wait = _wait_s(connect, enqueued)
        facts.answered = 1
        facts.answer_wait_s = wait
        facts.max_wait_s = wait
        facts.answered_in_sl = int(wait <= rules.service_level_s)
        facts.handled = 1
        return
    abandon = _first(events, "abandon")
    if abandon is None:  # a queue error: the caller was offered a way out, not abandoned
        return
    wait = _wait_s(abandon, enqueued)
    facts.max_wait_s = wait
    if wait < rules.short_abandon_s:
        facts.short_abandons = 1
        return
    facts.abandoned_queue = 1
    facts.abandoned_in_sl = int(wait <= rules.service_level_s)


def _wait_s(event: EventRow, enqueued: EventRow | None) -> int:
    """Twilio's QueueTime when the log has it, else the time since the enqueue event."""
    recorded = (event.data or {}).get("wait_s")
    if isinstance(recorded, int):
        return max(recorded, 0)
    if enqueued is None:
        return 0
    return max(int((event.at - enqueued.at).total_seconds()), 0)


def _talk(events: Sequence[EventRow]) -> tuple[int, EventRow | None]:
    """Talk time (``connect`` → the agent leg's ``complete``, or its ``talk_s``), and that end."""
    connect = _first(events, "connect")
    if connect is None:
        return 0, None
    done = next((e for e in events if e.kind == "complete" and e.at >= connect.at), None)
    if done is None:
        return 0, None
    talk = (done.data or {}).get("talk_s")
    if not isinstance(talk, int):
        talk = int((done.at - connect.at).total_seconds())
    return max(talk, 0), done


def _wrap_s(call: CallRow, done: EventRow | None, wrap_started_at: datetime | None) -> int:
    """After-call work: ``wrap_s`` when the log carries it, else the desk's wrap-up.

    At the desk, wrap-up runs from the agent's ``wrap_up`` state (the agent's leg ended) to the
    wrap-up form (``calls.wrapped_up_at``); without that state event, from the talk's end. A
    call still being wrapped up counts no wrap-up yet.
    """
    logged = (done.data or {}).get("wrap_s") if done is not None else None
    if isinstance(logged, int):
        return max(logged, 0)
    began = wrap_started_at or (done.at if done is not None else None)
    if call.wrapped_up_at is None or began is None:
        return 0
    return max(int((call.wrapped_up_at - began).total_seconds()), 0)


def _survey_facts(facts: CallFacts, events: Sequence[EventRow], rules: Rules) -> None:
    offered = any(e.kind == "ivr_enter" and e.node in rules.survey_nodes for e in events)
    answers = [e for e in events if e.kind == "survey_answer"]
    facts.surveys_offered = int(offered or bool(answers))
    facts.survey_responses = int(bool(answers))
    facts.survey_satisfied = int(bool(answers) and answers[-1].value in SATISFIED_SCORES)


def funnel_steps(events: Sequence[EventRow]) -> Counter[tuple[str, str]]:
    """(node, what happened) counts: entered, no_input, invalid, and how each visit ended.

    A visit to a node ends when the caller enters another node (``continued``, or ``to_agent``
    when that node is the agent queue) or when the call ends there (``hung_up``). Queue nodes
    themselves are left out: the queue figures describe them.
    """
    queue_nodes = {e.node for e in events if e.kind == "enqueue"}
    steps: Counter[tuple[str, str]] = Counter()
    current: str | None = None
    for event in events:
        if event.kind == "ivr_enter" and event.node is not None:
            if current is not None:
                steps[(current, "to_agent" if event.node in queue_nodes else "continued")] += 1
            current = None if event.node in queue_nodes else event.node
            if current is not None:
                steps[(current, "entered")] += 1
        elif event.kind == "ivr_no_input" and event.node == current and current is not None:
            steps[(current, "no_input")] += 1
        elif event.kind == "ivr_invalid" and event.node == current and current is not None:
            steps[(current, "invalid")] += 1
    if current is not None:
        steps[(current, "hung_up")] += 1
    return steps


def _first(events: Iterable[EventRow], kind: str) -> EventRow | None:
    return next((e for e in events if e.kind == kind), None)


def repeat_window() -> timedelta:
    return timedelta(days=7)
