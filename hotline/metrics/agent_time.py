"""Agents' time in each state, from ``agent_state_events``: what occupancy is made of.

An agent is in the state of their latest event until their next one. Time is clipped to the
range asked for and cut at half-hour boundaries. Instants are floored to whole seconds first,
so a range split anywhere (the rollups up to ``covered_until``, the live tail after it) adds up
to exactly the whole. Away time is never counted: occupancy is measured against signed-in time.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.calls.desk_models import AgentState, AgentStateEvent, AgentStatus
from hotline.metrics.accumulate import BUCKET, Sums, bucket_of

# state → (field in a half-hour's counts, field in an agent's counts)
SIGNED_IN_FIELDS = {
    AgentState.AVAILABLE.value: ("agent_available_s", "available_s"),
    AgentState.ON_CALL.value: ("agent_on_call_s", "on_call_s"),
    AgentState.WRAP_UP.value: ("agent_wrap_up_s", "wrap_up_s"),
}
AGENT_TIME_FIELDS = tuple(bucket_field for bucket_field, _ in SIGNED_IN_FIELDS.values())
PER_AGENT_TIME_FIELDS = tuple(agent_field for _, agent_field in SIGNED_IN_FIELDS.values())


@dataclass(frozen=True, slots=True)
class StateChange:
    user_id: int
    state: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Span:
    user_id: int
    state: str
    start: datetime
    end: datetime


def whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def spans(
    initial: Mapping[int, str], changes: Sequence[StateChange], start: datetime, end: datetime
) -> Iterator[Span]:
    """Who was in which state when, within [start, end).

    ``initial``: each agent's state at ``start``; ``changes``: events in [start, end), in order.
    """
    current = dict(initial)
    since = dict.fromkeys(initial, start)
    for change in changes:
        at = min(max(whole_second(change.at), start), end)
        state = current.get(change.user_id)
        if state is not None and at > since[change.user_id]:
            yield Span(change.user_id, state, since[change.user_id], at)
        current[change.user_id], since[change.user_id] = change.state, at
    for user_id, state in current.items():
        if end > since[user_id]:
            yield Span(user_id, state, since[user_id], end)


def add_spans(sums: Sums, found: Iterator[Span] | Sequence[Span]) -> None:
    """Add signed-in time to ``sums``: per half-hour (all agents) and per agent."""
    for span in found:
        fields = SIGNED_IN_FIELDS.get(span.state)
        if fields is None:  # away: not signed in
            continue
        bucket_field, agent_field = fields
        for bucket, seconds in half_hours(span.start, span.end):
            sums.buckets[bucket][bucket_field] += seconds
            sums.agents[span.user_id][agent_field] += seconds


def half_hours(start: datetime, end: datetime) -> Iterator[tuple[datetime, int]]:
    """(half-hour, whole seconds of [start, end) in it)."""
    cursor = start
    while cursor < end:
        bucket = bucket_of(cursor)
        piece_end = min(bucket + BUCKET, end)
        yield bucket, int((piece_end - cursor).total_seconds())
        cursor = piece_end


def add_agent_time(sums: Sums, session: Session, start: datetime, end: datetime) -> None:
    """Agents' signed-in time in [start, end), read from the state log."""
    start, end = whole_second(start), whole_second(end)
    if end <= start:
        return
    add_spans(sums, spans(states_at(session, start), changes_in(session, start, end), start, end))


def states_at(session: Session, moment: datetime) -> dict[int, str]:
    """Each agent's state at ``moment``: their latest event before it (one index probe each)."""
    latest = (
        select(AgentStateEvent.state)
        .where(AgentStateEvent.user_id == AgentStatus.user_id, AgentStateEvent.at < moment)
        .order_by(AgentStateEvent.at.desc(), AgentStateEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(select(AgentStatus.user_id, latest))
    return {user_id: state for user_id, state in rows if state is not None}


def changes_in(session: Session, start: datetime, end: datetime) -> list[StateChange]:
    query = (
        select(AgentStateEvent.user_id, AgentStateEvent.state, AgentStateEvent.at)
        .where(AgentStateEvent.at >= start, AgentStateEvent.at < end)
        .order_by(AgentStateEvent.at, AgentStateEvent.id)
    )
    return [StateChange(*row) for row in session.execute(query)]


def first_state_change(session: Session) -> datetime | None:
    """When the state log begins (the first refresh rolls agent time up from there)."""
    return session.scalars(select(AgentStateEvent.at).order_by(AgentStateEvent.at).limit(1)).first()


def time_may_have_accrued(session: Session, since: datetime) -> bool:
    """Whether any agent was signed in or changed state since ``since``.

    Reads ``agent_states`` (one row per agent): its ``since`` is each agent's latest change.
    """
    signed_in = AgentStatus.state != AgentState.AWAY.value
    query = select(AgentStatus.user_id).where(signed_in | (AgentStatus.since >= since)).limit(1)
    return session.scalars(query).first() is not None
