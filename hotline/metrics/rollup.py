"""Keeping the rollup tables current, and reading figures from them plus the live tail.

The unit of work is one local day: rebuilding a day deletes its rows and writes them again from
the calls that started that day and ended before the cut-off, so running it twice changes
nothing. ``refresh`` rebuilds only the days that gained ended calls since the last run, then
moves ``covered_until`` forward. Readers take the rollups for a range and add, from raw events,
only the calls that ended after ``covered_until`` — minutes of data, never a long range.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from hotline.calllog import Call
from hotline.metrics.accumulate import Sums, day_of, raw_sums, week_hour
from hotline.metrics.agent_time import (
    AGENT_TIME_FIELDS,
    PER_AGENT_TIME_FIELDS,
    add_agent_time,
    first_state_change,
    time_may_have_accrued,
    whole_second,
)
from hotline.metrics.facts import COUNT_FIELDS, FUNNEL_FIELDS, MAX_FIELDS, Rules
from hotline.metrics.models import AgentRollup, CallRollup, FunnelRollup, RollupState
from ticketing.db import Database, UnitOfWork

log = logging.getLogger(__name__)
SETTLE = timedelta(seconds=60)  # late status callbacks and buffered events land within this
STATE_ID = 1
BUCKET_FIELDS = (*COUNT_FIELDS, *AGENT_TIME_FIELDS)
AGENT_FIELDS = ("handled", "handle_s", "wrap_s", *PER_AGENT_TIME_FIELDS)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    days: int
    covered_until: datetime | None


def next_day(day: datetime, tz: ZoneInfo) -> datetime:
    return day_of(day + timedelta(hours=26), tz)  # safe across 23- and 25-hour days


def refresh(
    database: Database,
    rules: Rules,
    tz: ZoneInfo,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> RefreshReport:
    """Bring the rollups up to ``now`` minus a settling minute; one transaction per day.

    ``progress(done, total)`` is told after each day (the benchmark draws a bar with it).
    """
    until = now - SETTLE
    with UnitOfWork(database) as uow:
        since = covered_until(uow.session)
        if since is not None and until <= since:
            return RefreshReport(0, since)
        days = sorted(_days_to_rebuild(uow.session, since, until, tz))
    for done, day in enumerate(days, start=1):
        with UnitOfWork(database) as uow:
            rebuild_day(uow.session, day, until, rules, tz)
            uow.commit()
        if progress is not None:
            progress(done, len(days))
    with UnitOfWork(database) as uow:
        state = uow.session.get(RollupState, STATE_ID)
        if state is None:
            uow.session.add(RollupState(id=STATE_ID, covered_until=until))
        else:
            state.covered_until = until
        uow.commit()
    if days:
        log.info("metrics rollup: %d day(s) rebuilt, covered until %s", len(days), until)
    return RefreshReport(len(days), until)


def _days_to_rebuild(
    session: Session, since: datetime | None, until: datetime, tz: ZoneInfo
) -> set[datetime]:
    """Days holding calls that ended or were wrapped up since ``since``, and the days agents'
    signed-in time may have grown in (time accrues with no event while an agent is signed in).
    """
    ended = select(Call.started_at).where(Call.ended_at < until)
    wrapped = select(Call.started_at).where(Call.wrapped_up_at < until)
    if since is not None:
        ended = ended.where(Call.ended_at >= since)
        wrapped = wrapped.where(Call.wrapped_up_at >= since)
    days = {day_of(started, tz) for started in session.scalars(ended)}
    days |= {day_of(started, tz) for started in session.scalars(wrapped)}
    first = first_state_change(session) if since is None else since
    if first is not None and (since is None or time_may_have_accrued(session, since)):
        day = day_of(first, tz)
        while day < until:
            days.add(day)
            day = next_day(day, tz)
    return days


def rebuild_day(
    session: Session, day: datetime, until: datetime, rules: Rules, tz: ZoneInfo
) -> None:
    end = next_day(day, tz)
    where = (Call.started_at >= day) & (Call.started_at < end) & (Call.ended_at < until)
    sums = raw_sums(session, where, rules, tz)
    add_agent_time(sums, session, day, min(end, until))
    session.execute(
        delete(CallRollup).where(CallRollup.bucket_start >= day, CallRollup.bucket_start < end)
    )
    session.execute(delete(FunnelRollup).where(FunnelRollup.day_start == day))
    session.execute(delete(AgentRollup).where(AgentRollup.day_start == day))
    session.add_all(
        CallRollup(bucket_start=bucket, local_day=day, week_hour=week_hour(bucket, tz),
                   **{f: counts[f] for f in BUCKET_FIELDS})
        for bucket, counts in sums.buckets.items()
    )  # fmt: skip
    session.add_all(
        FunnelRollup(day_start=day, node=node, **{f: counts[f] for f in FUNNEL_FIELDS})
        for node, counts in sums.funnel.items()
    )
    session.add_all(
        AgentRollup(day_start=day, agent_id=agent, **{f: counts[f] for f in AGENT_FIELDS})
        for agent, counts in sums.agents.items()
    )
    session.flush()


def forget(database: Database) -> None:
    """Drop every rollup, so the next refresh rebuilds all days (after a threshold change)."""
    with UnitOfWork(database) as uow:
        for model in (CallRollup, FunnelRollup, AgentRollup, RollupState):
            uow.session.execute(delete(model))
        uow.commit()


def covered_until(session: Session) -> datetime | None:
    state = session.get(RollupState, STATE_ID)
    return state.covered_until if state else None


def read_sums(
    session: Session,
    start: datetime,
    end: datetime,
    rules: Rules,
    tz: ZoneInfo,
    *,
    now: datetime,
    by_day: bool = False,
) -> Sums:
    """Figures for calls started in [start, end) and agents' time in it up to ``now``: rollups,
    plus the raw tail after them.

    ``start`` and ``end`` are local midnights, so whole half-hours and whole days. ``by_day``
    returns one bucket per local day instead of per half-hour: what long ranges need, summed by
    the database. The raw tail keeps half-hours; its buckets fold into the day on display.
    """
    sums = Sums()
    since = covered_until(session)
    if since is not None:
        _read_rollups(session, sums, start, end, by_day)
    tail = Call.started_at >= start
    tail &= Call.started_at < end
    if since is not None:
        tail &= Call.ended_at >= since
    sums.merge(raw_sums(session, tail, rules, tz))
    # Rolled-up agent time stops at covered_until (floored to the second, as it was written).
    time_from = max(start, whole_second(since)) if since is not None else start
    add_agent_time(sums, session, time_from, min(end, now))
    return sums


def _read_rollups(
    session: Session, sums: Sums, start: datetime, end: datetime, by_day: bool
) -> None:
    in_range = (CallRollup.bucket_start >= start) & (CallRollup.bucket_start < end)
    key = CallRollup.local_day if by_day else CallRollup.bucket_start
    totals = [
        (func.max if f in MAX_FIELDS else func.sum)(getattr(CallRollup, f)) for f in BUCKET_FIELDS
    ]
    for bucket, *values in session.execute(select(key, *totals).where(in_range).group_by(key)):
        sums.add_bucket(
            bucket, dict(zip(BUCKET_FIELDS, (int(v or 0) for v in values), strict=True))
        )
    hours = select(CallRollup.week_hour, func.sum(CallRollup.calls)).where(in_range)
    for cell, calls in session.execute(hours.group_by(CallRollup.week_hour)):
        sums.week_hours[cell] += int(calls or 0)
    days = (FunnelRollup.day_start >= start) & (FunnelRollup.day_start < end)
    funnel = [func.sum(getattr(FunnelRollup, f)) for f in FUNNEL_FIELDS]
    for node, *values in session.execute(
        select(FunnelRollup.node, *funnel).where(days).group_by(FunnelRollup.node)
    ):
        sums.funnel[node].update(
            dict(zip(FUNNEL_FIELDS, (int(v or 0) for v in values), strict=True))
        )
    agent_days = (AgentRollup.day_start >= start) & (AgentRollup.day_start < end)
    per_agent = [func.sum(getattr(AgentRollup, f)) for f in AGENT_FIELDS]
    agents = select(AgentRollup.agent_id, *per_agent).where(agent_days)
    for agent, *values in session.execute(agents.group_by(AgentRollup.agent_id)):
        sums.agents[agent].update(
            dict(zip(AGENT_FIELDS, (int(v or 0) for v in values), strict=True))
        )
