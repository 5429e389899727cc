"""Keeping the rollup tables current, and reading figures from them plus the live tail.

Rebuilding a day deletes its rows and writes them again from the calls that started that day and
ended before the cut-off, so running it twice changes nothing: the first ``refresh`` (and the
first after ``forget``) rebuilds every day. Every later ``refresh`` adds only the window since
``covered_until`` to the rows and moves ``covered_until`` in the same transaction, so its cost
follows the last minute's calls, not the day's. Readers take the rollups for a range and add,
from raw events, only the calls not added yet (``calls.rolled_up_at`` is NULL) — minutes of
data, never a long range. Reading never writes: keeping the rollups is the refresh's job (the
worker, the command, or the embedded mode's keeper).

The calls not added yet are always found through the partial index of them, in its order, so
the plan stays right whatever PostgreSQL's statistics believe about how many are left; a refresh
that marked many calls at once analyzes the column in the same transaction.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.orm import Session

from hotline.calls.models import Call
from hotline.metrics.accumulate import (
    CHUNK,
    Sums,
    bucket_of,
    day_of,
    iter_facts,
    raw_sums,
    week_hour,
)
from hotline.metrics.agent_time import (
    AGENT_TIME_FIELDS,
    PER_AGENT_TIME_FIELDS,
    add_agent_time,
    first_state_change,
    time_may_have_accrued,
    whole_second,
)
from hotline.metrics.facts import (
    COUNT_FIELDS,
    FUNNEL_FIELDS,
    MAX_FIELDS,
    CallFacts,
    CallRow,
    Rules,
)
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
# A refresh that marks at least this many calls (a first build, a worker back from an outage)
# re-analyzes calls.rolled_up_at: the planner's idea of how many calls are left must not date
# from before the marks. A normal minute marks a few dozen and leaves the statistics alone.
ANALYZE_AFTER_MARKS = 1000


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
    rebuild: bool = False,
) -> RefreshReport:
    """Bring the rollups up to ``now`` minus a settling minute, in one transaction that holds
    the rollups' lock, so two refreshes (two workers, or one and ``hotline metrics rollup``)
    never interleave. ``wait=False`` (the worker's minutely round) gives up at once, with a
    ``busy`` report, when another refresh holds the lock.

    The first run (and the first after ``forget``, or any run with ``rebuild``) rebuilds every
    day that has calls or agent time; ``progress(done, total)`` is told after each day (the
    benchmark draws a bar with it). ``rebuild`` drops the old rows in the same transaction, so
    readers keep the old rollups until the new ones are committed instead of reading a year of
    raw events meanwhile. Every later run *adds* what happened since ``covered_until``
    (:func:`add_window`): its cost follows the calls of the last minute, not the size of the day.
    """
    until = now - SETTLE
    with UnitOfWork(database) as uow:
        session = uow.session
        if not lock_rollups(session, wait=wait):
            return RefreshReport(0, None, busy=True)
        state = session.get(RollupState, STATE_ID)  # read under the lock
        if state is not None and not rebuild and until <= state.covered_until:
            return RefreshReport(0, state.covered_until)
        if state is None or rebuild:
            if rebuild:
                _delete_rollup_rows(session)
            days, marked = _rebuild_all(session, rules, tz, until, progress)
            if state is None:
                session.add(RollupState(id=STATE_ID, covered_until=until))
            else:
                state.covered_until = until
        else:
            days, marked = add_window(session, state.covered_until, until, rules, tz)
            state.covered_until = until
        if marked >= ANALYZE_AFTER_MARKS:
            analyze_marks(session)
        uow.commit()
    if days:
        log.info("metrics rollup: %d day(s) rebuilt or added to, covered until %s", days, until)
    return RefreshReport(days, until)


def analyze_marks(session: Session) -> None:
    """Refresh PostgreSQL's statistics of ``calls.rolled_up_at`` inside the refresh's
    transaction, so they are committed with the marks they describe (ANALYZE counts this
    transaction's own new row versions as the live ones). SQLite plans without statistics
    unless ANALYZE was ever run there, which would change the plans of every table."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE calls (rolled_up_at)"))


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
) -> tuple[int, int]:
    """Rebuild every day; returns (days, calls marked)."""
    days = sorted(_days_to_rebuild(session, until, tz))
    marked = 0
    for done, day in enumerate(days, start=1):
        marked += rebuild_day(session, day, until, rules, tz)
        if progress is not None:
            progress(done, len(days))
    return len(days), marked


def add_window(
    session: Session, since: datetime, until: datetime, rules: Rules, tz: ZoneInfo
) -> tuple[int, int]:
    """Add [since, until) to the rollups; returns (local days that gained something, calls
    marked).

    - calls that ended before ``until`` and are not in the rollups yet (``rolled_up_at`` is
      NULL), whenever their end reached the call log: their wrap-ups counted only if done
      before ``until``, exactly as :func:`rebuild_day` counts them;
    - calls added earlier and wrapped up in the window: the wrap-up's share only (wrap and
      handle seconds), the difference between their facts with and without it;
    - agents' signed-in time in the window, cut at local midnights.
    Counts and sums are added to the rows; ``max_wait_s`` keeps the larger value.
    """
    per_day: dict[datetime, Sums] = defaultdict(Sums)
    left = not_rolled_up(session)  # a late-logged end included, whenever the call started
    ended = [c.id for c in left if c.ended_at is not None and c.ended_at < until]
    new_ids = []
    for call, facts in facts_of(session, ended, rules, until=until):
        per_day[day_of(call.started_at, tz)].add_call(call.started_at, facts, tz)
        new_ids.append(call.id)
    # Wrap-ups are written as they happen (no buffer), so this window holds every new one.
    late = (Call.wrapped_up_at >= since) & (Call.wrapped_up_at < until)
    late &= Call.rolled_up_at.is_not(None) & (Call.rolled_up_at <= Call.wrapped_up_at)
    with_wrap = iter_facts(session, late, rules, wraps_before=until)
    without = iter_facts(session, late, rules, wraps_before=NO_WRAP_UPS)
    wrapped_ids = []
    for (call, after), (_, before) in zip(with_wrap, without, strict=True):
        _add_wrap_up(per_day[day_of(call.started_at, tz)], call.started_at, after, before)
        wrapped_ids.append(call.id)
    marked = _mark_rolled_up(session, [*new_ids, *_practice(left, until)], until)
    _mark_rolled_up(session, wrapped_ids, until)
    if time_may_have_accrued(session, since):
        day = day_of(since, tz)
        while day < until:
            end = next_day(day, tz)
            add_agent_time(per_day[day], session, max(day, since), min(end, until))
            day = end
    touched = {day: sums for day, sums in per_day.items() if _has_anything(sums)}
    for day, sums in touched.items():
        _add_rows(session, day, sums, tz)
    return len(touched), marked


@dataclass(frozen=True, slots=True)
class LeftOver:
    """A call not in the rollups yet."""

    id: int
    ended_at: datetime | None
    is_training: bool


def not_rolled_up(
    session: Session, start: datetime | None = None, end: datetime | None = None
) -> list[LeftOver]:
    """The calls not in the rollups yet (started in [start, end) if given), through the partial
    index ``ix_calls_not_rolled_up`` and in the order it keeps. Its predicate and its key are
    all the query asks, so PostgreSQL walks that index whatever its statistics say; right after
    a bulk marking they may still count most of the table as left, and a query ordered by
    ``calls.id`` was then planned as a walk of the whole primary key."""
    query = select(Call.id, Call.ended_at, Call.is_training).where(Call.rolled_up_at.is_(None))
    if start is not None:
        query = query.where(Call.started_at >= start)
    if end is not None:
        query = query.where(Call.started_at < end)
    return [LeftOver(*row) for row in session.execute(query.order_by(Call.started_at))]


def facts_of(
    session: Session, call_ids: list[int], rules: Rules, *, until: datetime | None = None
) -> Iterator[tuple[CallRow, CallFacts]]:
    """The facts of the given calls (those that ended before ``until``, if given; wrap-ups from
    ``until`` on left out), fetched by primary key a chunk at a time."""
    for start in range(0, len(call_ids), CHUNK):
        where: ColumnElement[bool] = Call.id.in_(call_ids[start : start + CHUNK])
        if until is not None:
            where &= Call.ended_at < until
        yield from iter_facts(session, where, rules, wraps_before=until)


def _practice(calls: list[LeftOver], until: datetime) -> list[int]:
    """Practice calls that ended before ``until``: they never count, and marking them keeps the
    partial index of calls left small."""
    return [c.id for c in calls if c.is_training and c.ended_at is not None and c.ended_at < until]


def _mark_rolled_up(session: Session, call_ids: list[int], cut_off: datetime) -> int:
    for start in range(0, len(call_ids), 1000):
        chunk = call_ids[start : start + 1000]
        session.execute(update(Call).where(Call.id.in_(chunk)).values(rolled_up_at=cut_off))
    return len(call_ids)


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
) -> int:
    """Write the day's rows again from its calls and agents' time; returns how many calls it
    marked. Every call that ended before ``until`` is counted, marked or not, but only the
    unmarked ones are marked: a mark older than ``until`` says the same (the call is in the
    rollups, with its wrap-ups before the mark), so a rebuild after ``forget`` updates no call
    that was already in."""
    end = next_day(day, tz)
    where = (Call.started_at >= day) & (Call.started_at < end) & (Call.ended_at < until)
    sums, counted = Sums(), set()
    for call, facts in iter_facts(session, where, rules, wraps_before=until):
        sums.add_call(call.started_at, facts, tz)
        counted.add(call.id)
    # Read after the facts, and of these only the calls counted are marked: an end the flusher
    # commits meanwhile is left for the next refresh.
    left = not_rolled_up(session, day, end)
    marked = _mark_rolled_up(
        session, [c.id for c in left if c.id in counted] + _practice(left, until), until
    )
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
    return marked


def forget(database: Database) -> None:
    """Drop every rollup, so the next refresh rebuilds all days (after a threshold change).

    Calls keep their marks: the rebuild counts every ended call anyway (see
    :func:`rebuild_day`), and clearing the marks would be an update of the whole call table,
    followed by another when the rebuild marked them again. ``refresh(rebuild=True)`` does
    the same in the rebuild's own transaction."""
    with UnitOfWork(database) as uow:
        lock_rollups(uow.session)
        _delete_rollup_rows(uow.session)
        uow.session.execute(delete(RollupState))
        uow.commit()


def _delete_rollup_rows(session: Session) -> None:
    for model in (CallRollup, FunnelRollup, AgentRollup):
        session.execute(delete(model))


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
    if since is None:  # nothing rolled up yet: every call is the tail
        sums.merge(raw_sums(session, (Call.started_at >= start) & (Call.started_at < end),
                            rules, tz))  # fmt: skip
    else:
        _read_rollups(session, sums, start, end, by_day)
        left = not_rolled_up(session, start, end)
        tail = [c.id for c in left if c.ended_at is not None and not c.is_training]
        for call, facts in facts_of(session, tail, rules):
            sums.add_call(call.started_at, facts, tz)
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
