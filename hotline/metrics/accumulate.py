"""Summing call facts: per bucket (a half-hour or a local day), per IVR node, per agent, and
calls per local weekday-hour (the heatmap).

The same :class:`Sums` is filled from raw calls (:func:`raw_sums`), written to and read back from
the rollup tables (:mod:`hotline.metrics.rollup`), so "rollups equal raw" is a plain comparison.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from hotline.calls.desk_models import AgentState, AgentStateEvent
from hotline.calls.models import Call, CallEvent
from hotline.metrics.facts import (
    COUNT_FIELDS,
    MAX_FIELDS,
    CallFacts,
    CallRow,
    EventRow,
    Rules,
    call_facts,
    repeat_window,
)

BUCKET = timedelta(minutes=30)
CHUNK = 2000


def bucket_of(moment: datetime) -> datetime:
    """The UTC start of the half-hour holding ``moment`` (local half-hours too: UTC+7 is whole)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % 30, second=0, microsecond=0)


def day_of(moment: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant of local midnight starting the day that holds ``moment``."""
    local = moment.astimezone(tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def week_hour(moment: datetime, tz: ZoneInfo) -> int:
    """Local weekday (Monday 0) × 24 + local hour: the heatmap's cell."""
    local = moment.astimezone(tz)
    return local.weekday() * 24 + local.hour


@dataclass
class Sums:
    buckets: dict[datetime, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    funnel: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    agents: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    week_hours: Counter[int] = field(default_factory=Counter)

    def add_call(self, started_at: datetime, facts: CallFacts, tz: ZoneInfo) -> None:
        """Add one call; ``buckets`` get half-hours (readers may regroup them by day)."""
        self.add_bucket(bucket_of(started_at), {f: getattr(facts, f) for f in COUNT_FIELDS})
        self.week_hours[week_hour(started_at, tz)] += facts.calls
        for (node, what), count in facts.funnel.items():
            self.funnel[node][what] += count
        if facts.handled:
            agent = self.agents[facts.agent_id or 0]
            agent["handled"] += facts.handled
            agent["handle_s"] += facts.handle_s
            agent["wrap_s"] += facts.wrap_s

    def add_bucket(self, bucket: datetime, counts: dict[str, int]) -> None:
        target = self.buckets[bucket]
        for name, value in counts.items():
            if name in MAX_FIELDS:
                target[name] = max(target[name], value)
            elif value:
                target[name] += value

    def merge(self, other: Sums) -> None:
        for bucket, counts in other.buckets.items():
            self.add_bucket(bucket, dict(counts))
        for node_key, node_counts in other.funnel.items():
            self.funnel[node_key].update(node_counts)
        for agent_key, agent_counts in other.agents.items():
            self.agents[agent_key].update(agent_counts)
        self.week_hours.update(other.week_hours)

    def totals(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for counts in self.buckets.values():
            for name, value in counts.items():
                total[name] = max(total[name], value) if name in MAX_FIELDS else total[name] + value
        return total

    def normalised(self) -> dict[str, Any]:
        """Comparable form without empty entries (for tests and idempotence checks)."""
        return {
            "buckets": {k: _nonzero(v) for k, v in sorted(self.buckets.items()) if _nonzero(v)},
            "funnel": {k: _nonzero(v) for k, v in sorted(self.funnel.items()) if _nonzero(v)},
            "agents": {k: _nonzero(v) for k, v in sorted(self.agents.items()) if _nonzero(v)},
            "week_hours": _nonzero_keys(self.week_hours),
        }


def _nonzero(counts: Counter[str]) -> dict[str, int]:
    return {k: v for k, v in sorted(counts.items()) if v}


def _nonzero_keys(counts: Counter[int]) -> dict[int, int]:
    return {k: v for k, v in sorted(counts.items()) if v}


def raw_sums(
    session: Session,
    where: ColumnElement[bool],
    rules: Rules,
    tz: ZoneInfo,
    *,
    wraps_before: datetime | None = None,
) -> Sums:
    """Sums straight from the call log for the ended, non-training calls matching ``where``
    (wrap-ups at or after ``wraps_before``, if given, not yet counted)."""
    sums = Sums()
    for call, facts in iter_facts(session, where, rules, wraps_before=wraps_before):
        sums.add_call(call.started_at, facts, tz)
    return sums


def iter_facts(
    session: Session,
    where: ColumnElement[bool],
    rules: Rules,
    *,
    wraps_before: datetime | None = None,
) -> Iterator[tuple[CallRow, CallFacts]]:
    """Each matching call and its facts. ``wraps_before``: a wrap-up at or after it is left out
    (the call counts as still being wrapped up), so the rollups' cut-off applies to wrap-ups too
    and a later refresh adds it exactly once."""
    query = (
        select(Call.id, Call.started_at, Call.ended_at, Call.outcome, Call.twilio_status,
               Call.from_number, Call.agent_id, Call.wrapped_up_at)
        .where(where, Call.ended_at.is_not(None), Call.is_training.is_(False))
        .order_by(Call.id)
    )  # fmt: skip
    rows = [CallRow(*row) for row in session.execute(query)]
    if wraps_before is not None:
        rows = [without_wrap_up(row) if _wrapped_since(row, wraps_before) else row for row in rows]
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        events = _events_of(session, [c.id for c in chunk])
        earlier = _earlier_calls(session, chunk)
        wraps = _wrap_starts(session, [c.id for c in chunk if c.wrapped_up_at is not None])
        for call in chunk:
            repeat = _is_repeat(call, earlier.get(call.from_number or "", []))
            yield call, call_facts(call, events.get(call.id, ()), rules, is_repeat=repeat,
                                   wrap_started_at=wraps.get(call.id))  # fmt: skip


def without_wrap_up(call: CallRow) -> CallRow:
    return replace(call, wrapped_up_at=None)


def _wrapped_since(call: CallRow, moment: datetime) -> bool:
    return call.wrapped_up_at is not None and call.wrapped_up_at >= moment


def _events_of(session: Session, call_ids: Sequence[int]) -> dict[int, list[EventRow]]:
    found: dict[int, list[EventRow]] = defaultdict(list)
    query = select(
        CallEvent.call_id, CallEvent.id, CallEvent.kind, CallEvent.node, CallEvent.value,
        CallEvent.at, CallEvent.data,
    ).where(CallEvent.call_id.in_(call_ids))  # fmt: skip
    for call_id, *values in session.execute(query):
        found[call_id].append(EventRow(*values))
    return found


def _wrap_starts(session: Session, call_ids: Sequence[int]) -> dict[int, datetime]:
    """call id → when its agent went into wrap-up (the ``wrap_up`` state event of that call)."""
    if not call_ids:
        return {}
    query = (
        select(Call.id, func.min(AgentStateEvent.at))
        .join(AgentStateEvent, AgentStateEvent.call_sid == Call.call_sid)
        .where(Call.id.in_(call_ids), AgentStateEvent.state == AgentState.WRAP_UP.value)
        .group_by(Call.id)
    )
    return {call_id: at for call_id, at in session.execute(query) if at is not None}


def _earlier_calls(session: Session, calls: Sequence[CallRow]) -> dict[str, list[datetime]]:
    """Start times of every call (ended or not) from the chunk's numbers in the window before."""
    numbers = sorted({c.from_number for c in calls if c.from_number})
    if not numbers:
        return {}
    since = min(c.started_at for c in calls) - repeat_window()
    until = max(c.started_at for c in calls)
    found: dict[str, list[datetime]] = defaultdict(list)
    for index in range(0, len(numbers), 500):
        query = select(Call.from_number, Call.started_at).where(
            and_(
                Call.from_number.in_(numbers[index : index + 500]),
                Call.started_at >= since,
                Call.started_at < until,
                Call.is_training.is_(False),
            )
        )
        for number, started in session.execute(query):
            found[number or ""].append(started)
    for times in found.values():
        times.sort()
    return found


def _is_repeat(call: CallRow, earlier: list[datetime]) -> bool:
    """Another call from the same number started in the 7 days before this one."""
    index = bisect.bisect_left(earlier, call.started_at - repeat_window())
    return index < len(earlier) and earlier[index] < call.started_at
