"""Keeping the rollup tables current, and reading figures from them plus the live tail.

The unit of work is one local day: rebuilding a day deletes its rows and writes them again from
the calls that started that day and ended before the cut-off, so running it twice changes
nothing. ``refresh`` rebuilds only the days that gained ended calls since the last run, then
moves ``covered_until`` forward. Readers take the rollups for a range and add, from raw events,
only the calls that ended after ``covered_until`` — minutes of data, never a long range.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hotline.calllog import Call
from hotline.metrics.accumulate import Sums, day_of, raw_sums
from hotline.metrics.facts import COUNT_FIELDS, FUNNEL_FIELDS, Rules
from hotline.metrics.models import AgentRollup, CallRollup, FunnelRollup, RollupState
from ticketing.db import Database, UnitOfWork

log = logging.getLogger(__name__)
SETTLE = timedelta(seconds=60)  # late status callbacks and buffered events land within this
STATE_ID = 1


@dataclass(frozen=True, slots=True)
class RefreshReport:
    days: int
    covered_until: datetime | None


def next_day(day: datetime, tz: ZoneInfo) -> datetime:
    return day_of(day + timedelta(hours=26), tz)  # safe across 23- and 25-hour days


def refresh(database: Database, rules: Rules, tz: ZoneInfo, now: datetime) -> RefreshReport:
    """Bring the rollups up to ``now`` minus a settling minute; one transaction per day."""
    until = now - SETTLE
    with UnitOfWork(database) as uow:
        since = covered_until(uow.session)
        if since is not None and until <= since:
            return RefreshReport(0, since)
        query = select(Call.started_at).where(Call.ended_at < until)
        if since is not None:
            query = query.where(Call.ended_at >= since)
        days = sorted({day_of(started, tz) for started in uow.session.scalars(query)})
    for day in days:
        with UnitOfWork(database) as uow:
            rebuild_day(uow.session, day, until, rules, tz)
            uow.commit()
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


def rebuild_day(
    session: Session, day: datetime, until: datetime, rules: Rules, tz: ZoneInfo
) -> None:
    end = next_day(day, tz)
    where = (Call.started_at >= day) & (Call.started_at < end) & (Call.ended_at < until)
    sums = raw_sums(session, where, rules, tz)
    session.execute(
        delete(CallRollup).where(CallRollup.bucket_start >= day, CallRollup.bucket_start < end)
    )
    session.execute(delete(FunnelRollup).where(FunnelRollup.day_start == day))
    session.execute(delete(AgentRollup).where(AgentRollup.day_start == day))
    session.add_all(
        CallRollup(bucket_start=bucket, **{f: counts[f] for f in COUNT_FIELDS})
        for bucket, counts in sums.buckets.items()
    )
    session.add_all(
        FunnelRollup(day_start=d, node=node, **{f: counts[f] for f in FUNNEL_FIELDS})
        for (d, node), counts in sums.funnel.items()
    )
    session.add_all(
        AgentRollup(day_start=d, agent_id=agent, handled=c["handled"], handle_s=c["handle_s"])
        for (d, agent), c in sums.agents.items()
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


def read_sums(session: Session, start: datetime, end: datetime, rules: Rules, tz: ZoneInfo) -> Sums:
    """Figures for calls started in [start, end): rollups, plus the raw tail after them.

    ``start`` and ``end`` are local midnights, so whole half-hours and whole days.
    """
    sums = Sums()
    since = covered_until(session)
    if since is not None:
        _read_rollups(session, sums, start, end)
    tail = Call.started_at >= start
    tail &= Call.started_at < end
    if since is not None:
        tail &= Call.ended_at >= since
    sums.merge(raw_sums(session, tail, rules, tz))
    return sums


def _read_rollups(session: Session, sums: Sums, start: datetime, end: datetime) -> None:
    columns = [getattr(CallRollup, f) for f in COUNT_FIELDS]
    rows = session.execute(
        select(CallRollup.bucket_start, *columns).where(
            CallRollup.bucket_start >= start, CallRollup.bucket_start < end
        )
    )
    for bucket, *values in rows:
        sums.add_bucket(bucket, dict(zip(COUNT_FIELDS, values, strict=True)))
    funnel_columns = [getattr(FunnelRollup, f) for f in FUNNEL_FIELDS]
    funnel = session.execute(
        select(FunnelRollup.day_start, FunnelRollup.node, *funnel_columns).where(
            FunnelRollup.day_start >= start, FunnelRollup.day_start < end
        )
    )
    for day, node, *values in funnel:
        sums.funnel[(day, node)].update(dict(zip(FUNNEL_FIELDS, values, strict=True)))
    agents = session.execute(
        select(AgentRollup.day_start, AgentRollup.agent_id, AgentRollup.handled,
               AgentRollup.handle_s)
        .where(AgentRollup.day_start >= start, AgentRollup.day_start < end)
    )  # fmt: skip
    for day, agent, handled, handle_s in agents:
        sums.agents[(day, agent)].update({"handled": handled, "handle_s": handle_s})
