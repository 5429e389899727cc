"""Keeping the rollup tables current, and reading figures from them plus the live tail.

Rebuilding a day deletes its rows and writes them again from the calls that started that day and
ended before the cut-off, so running it twice changes nothing: the first ``refresh`` (and the
first after ``forget``) rebuilds every day. Every later ``refresh`` adds only the window since
``covered_until`` to the rows and moves ``covered_until`` in the same transaction, so its cost
follows the last minute's calls, not the day's. Readers take the rollups for a range and add,
from raw events, only the calls not added yet (``calls.rolled_up_at`` is NULL) — minutes of
data, never a long range.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from hotline.calls.models import Call
from hotline.metrics.accumulate import Sums, bucket_of, day_of, iter_facts, raw_sums, week_hour
from hotline.metrics.agent_time import (
    AGENT_TIME_FIELDS,
    PER_AGENT_TIME_FIELDS,
    add_agent_time,
    first_state_change,
    time_may_have_accrued,
    whole_second,
)
from hotline.metrics.facts import COUNT_FIELDS, FUNNEL_FIELDS, MAX_FIELDS, CallFacts, Rules
from hotline.metrics.models import AgentRollup, CallRollup, FunnelRollup, RollupState
from ticketing.db.base import Base
from ticketing.db.engine import Database
from ticketing.db.statements import insert_for_dialect
from ticketing.db.uow import UnitOfWork

log = logging.getLogger(__name__)
SETTLE = timedelta(seconds=60)  # late status callbacks and buffered events land within this
STATE_ID = 1
ROLLUP_LOCK_KEY = 1567_0001  # the advisory lock of the rollups (any constant bigint)
NO_WRAP_UPS = datetime.min.replace(tzinfo=UTC)  # wraps_before that leaves every wrap-up out
BUCKET_FIELDS = (*COUNT_FIELDS, *AGENT_TIME_FIELDS)
AGENT_FIELDS = ("handled", "handle_s", "wrap_s", *PER_AGENT_TIME_FIELDS)


@dataclass(frozen=True, slots=True)
class RefreshReport:
    days: int
    covered_until: datetime | None
    busy: bool = False  # another refresh held the lock and ``wait`` was False: nothing done


def next_day(day: datetime, tz: ZoneInfo) -> datetime:
    return day_of(day + timedelta(hours=26), tz)  # safe across 23- and 25-hour days


def refresh(
    database: Database,
    rules: Rules,
    tz: ZoneInfo,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
    *,
    wait: bool = True,
) -> RefreshReport:
    """Bring the rollups up to ``now`` minus a settling minute, in one transaction that holds
    the rollups' lock, so two refreshes (two workers, or one and ``hotline metrics rollup``)
    never interleave. ``wait=False`` (the worker's minutely round) gives up at once, with a
    ``busy`` report, when another refresh holds the lock.

    The first run (and the first after ``forget``) rebuilds every day that has calls or agent
    time; ``progress(done, total)`` is told after each day (the benchmark draws a bar with it).
    Every later run *adds* what happened since ``covered_until`` (:func:`add_window`): its cost
    follows the calls of the last minute, not the size of the day.
    """
    until = now - SETTLE
    with UnitOfWork(database) as uow:
        session = uow.session
        if not lock_rollups(session, wait=wait):
            return RefreshReport(0, None, busy=True)
        state = session.get(RollupState, STATE_ID)  # read under the lock
        if state is not None and until <= state.covered_until:
            return RefreshReport(0, state.covered_until)
        if state is None:
            days = _rebuild_all(session, rules, tz, until, progress)
            session.add(RollupState(id=STATE_ID, covered_until=until))
        else:
            days = add_window(session, state.covered_until, until, rules, tz)
            state.covered_until = until
        uow.commit()
    if days:
        log.info("metrics rollup: %d day(s) rebuilt or added to, covered until %s", days, until)
    return RefreshReport(days, until)


def lock_rollups(session: Session, *, wait: bool = True) -> bool:
    """Take the rollups' lock until the end of the transaction; False if ``wait`` is False and
    another transaction holds it. PostgreSQL: an advisory lock. SQLite: the transaction's
    BEGIN IMMEDIATE already serialises every writer."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    if wait:
        session.execute(select(func.pg_advisory_xact_lock(ROLLUP_LOCK_KEY)))
        return True
    return bool(session.scalar(select(func.pg_try_advisory_xact_lock(ROLLUP_LOCK_KEY))))


def _rebuild_all(
    session: Session,
    rules: Rules,
    tz: ZoneInfo,
    until: datetime,
    progress: Callable[[int, int], None] | None,
) -> int:
    days = sorted(_days_to_rebuild(session, until, tz))
    for done, day in enumerate(days, start=1):
        rebuild_day(session, day, until, rules, tz)
        if progress is not None:
            progress(done, len(days))
    return len(days)


def add_window(
    session: Session, since: datetime, until: datetime, rules: Rules, tz: ZoneInfo
) -> int:
    """Add [since, until) to the rollups; returns how many local days gained something.

    - calls that ended before ``until`` and are not in the rollups yet (``rolled_up_at`` is
      NULL), whenever their end reached the call log: their wrap-ups counted only if done
      before ``until``, exactly as :func:`rebuild_day` counts them;
    - calls added earlier and wrapped up in the window: the wrap-up's share only (wrap and
      handle seconds), the difference between their facts with and without it;
    - agents' signed-in time in the window, cut at local midnights.
    Counts and sums are added to the rows; ``max_wait_s`` keeps the larger value.
    """
    per_day: dict[datetime, Sums] = defaultdict(Sums)
    new = Call.rolled_up_at.is_(None) & (Call.ended_at < until)  # a late-logged end included
    new_ids = []
    for call, facts in iter_facts(session, new, rules, wraps_before=until):
        per_day[day_of(call.started_at, tz)].add_call(call.started_at, facts, tz)
        new_ids.append(call.id)
    _mark_practice_calls(session, new, until)
    # Wrap-ups are written as they happen (no buffer), so this window holds every new one.
    late = (Call.wrapped_up_at >= since) & (Call.wrapped_up_at < until)
    late &= Call.rolled_up_at.is_not(None) & (Call.rolled_up_at <= Call.wrapped_up_at)
    with_wrap = iter_facts(session, late, rules, wraps_before=until)
    without = iter_facts(session, late, rules, wraps_before=NO_WRAP_UPS)
    wrapped_ids = []
    for (call, after), (_, before) in zip(with_wrap, without, strict=True):
        _add_wrap_up(per_day[day_of(call.started_at, tz)], call.started_at, after, before)
        wrapped_ids.append(call.id)
    _mark_rolled_up(session, [*new_ids, *wrapped_ids], until)
    if time_may_have_accrued(session, since):
        day = day_of(since, tz)
        while day < until:
            end = next_day(day, tz)
            add_agent_time(per_day[day], session, max(day, since), min(end, until))
            day = end
    touched = {day: sums for day, sums in per_day.items() if _has_anything(sums)}
    for day, sums in touched.items():
        _add_rows(session, day, sums, tz)
    return len(touched)


def _mark_rolled_up(session: Session, call_ids: list[int], cut_off: datetime) -> None:
    for start in range(0, len(call_ids), 1000):
        chunk = call_ids[start : start + 1000]
        session.execute(update(Call).where(Call.id.in_(chunk)).values(rolled_up_at=cut_off))


def _mark_practice_calls(session: Session, where: ColumnElement[bool], cut_off: datetime) -> None:
    """Practice calls never count; marking them keeps the partial index of calls left small."""
    practice = where & Call.is_training.is_(True) & Call.rolled_up_at.is_(None)
    session.execute(update(Call).where(practice).values(rolled_up_at=cut_off))


def _add_wrap_up(sums: Sums, started_at: datetime, after: CallFacts, before: CallFacts) -> None:
    grown = {f: getattr(after, f) - getattr(before, f) for f in COUNT_FIELDS if f not in MAX_FIELDS}
    sums.add_bucket(bucket_of(started_at), {f: v for f, v in grown.items() if v})
    if after.handled:
        agent = sums.agents[after.agent_id or 0]
        agent["handle_s"] += after.handle_s - before.handle_s
        agent["wrap_s"] += after.wrap_s - before.wrap_s


def _has_anything(sums: Sums) -> bool:
    normalised = sums.normalised()
    return any(normalised[part] for part in ("buckets", "funnel", "agents"))


def _add_rows(session: Session, day: datetime, sums: Sums, tz: ZoneInfo) -> None:
    dialect = session.get_bind().dialect.name
    conn = session.connection()
    buckets = [
        {"bucket_start": bucket, "local_day": day, "week_hour": week_hour(bucket, tz),
         **{f: counts[f] for f in BUCKET_FIELDS}}
        for bucket, counts in sums.buckets.items()
    ]  # fmt: skip
    funnel = [{"day_start": day, "node": node, **{f: counts[f] for f in FUNNEL_FIELDS}}
              for node, counts in sums.funnel.items()]  # fmt: skip
    agents = [{"day_start": day, "agent_id": agent, **{f: counts[f] for f in AGENT_FIELDS}}
              for agent, counts in sums.agents.items()]  # fmt: skip
    for model, rows in ((CallRollup, buckets), (FunnelRollup, funnel), (AgentRollup, agents)):
        if rows:
            conn.execute(_adding_upsert(dialect, model), rows)


@cache
def _adding_upsert(dialect: str, model: type[Base]) -> Any:
    """INSERT the row, or add its counts to the row with the same key (the larger maximum)."""
    table = model.__table__
    statement = insert_for_dialect(dialect)(table)
    larger = func.greatest if dialect == "postgresql" else func.max  # SQLite's max(a, b)
    keys = [c.name for c in table.columns if c.primary_key]
    changes = {
        c.name: larger(c, statement.excluded[c.name]) if c.name in MAX_FIELDS
        else c + statement.excluded[c.name]
        for c in table.columns
        if c.name not in keys and c.name not in ("local_day", "week_hour")
    }  # fmt: skip
    return statement.on_conflict_do_update(index_elements=keys, set_=changes)


def _days_to_rebuild(session: Session, until: datetime, tz: ZoneInfo) -> set[datetime]:
    """Days holding calls that ended before ``until``, and every day since the state log began
    (agents' signed-in time accrues with no event while they stay signed in)."""
    ended = select(Call.started_at).where(Call.ended_at < until)
    days = {day_of(started, tz) for started in session.scalars(ended)}
    first = first_state_change(session)
    if first is not None:
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
    sums, counted = Sums(), []
    for call, facts in iter_facts(session, where, rules, wraps_before=until):
        sums.add_call(call.started_at, facts, tz)
        counted.append(call.id)
    # Only the calls counted: an end the flusher commits meanwhile is left for the next refresh.
    _mark_rolled_up(session, counted, until)
    _mark_practice_calls(session, where, until)
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
        lock_rollups(uow.session)
        for model in (CallRollup, FunnelRollup, AgentRollup, RollupState):
            uow.session.execute(delete(model))
        uow.session.execute(
            update(Call).where(Call.rolled_up_at.is_not(None)).values(rolled_up_at=None)
        )
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
        tail &= Call.rolled_up_at.is_(None)
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
