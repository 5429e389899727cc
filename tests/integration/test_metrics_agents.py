"""Agent figures from the desk's state log and calls, against a hand-computed fixture, on SQLite
and PostgreSQL: occupancy (all agents and per agent), calls handled, AHT with its wrap-up part,
and the rollups (equal to the raw computation, idempotent, caught up by the live tail).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

import hotline.metrics.accumulate as accumulate
import hotline.metrics.rollup as rollup
from hotline.calls.desk import set_state_by_hand
from hotline.calls.models import Call
from hotline.metrics import figures
from hotline.metrics.accumulate import Sums, raw_sums
from hotline.metrics.agent_time import add_agent_time
from hotline.metrics.facts import Rules
from hotline.metrics.rollup import forget, read_sums, rebuild_day, refresh
from tests.factories import make_user
from tests.integration.metrics_fixture import (
    AGENT_BUCKETS,
    AGENTS_NOW,
    DAY_START,
    add_call,
    load,
    load_agents,
    local,
    queue,
)
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

TZ = ZoneInfo("Asia/Bangkok")
RULES = Rules(service_level_s=20, short_abandon_s=5)
DAY_END = DAY_START + timedelta(days=1)


def agents(database: Database) -> tuple[int, int]:
    p, q = make_user(database, "agent"), make_user(database, "agent")
    assert p.user_id is not None and q.user_id is not None
    return p.user_id, q.user_id


def exact(db: Database, now: datetime) -> Sums:
    """Straight from the call log and the state log, no rollups."""
    with UnitOfWork(db) as uow:
        sums = raw_sums(uow.session, Call.started_at >= DAY_START, RULES, TZ)
        add_agent_time(sums, uow.session, DAY_START, min(now, DAY_END))
        return sums


def rolled(db: Database, now: datetime) -> Sums:
    with UnitOfWork(db) as uow:
        return read_sums(uow.session, DAY_START, DAY_END, RULES, TZ, now=now)


def test_agent_time_and_desk_calls_match_the_hand_computed_fixture(database: Database) -> None:
    p, q = agents(database)
    load_agents(database, p, q)
    sums = exact(database, AGENTS_NOW)
    for bucket, (available, on_call, wrap_up) in AGENT_BUCKETS.items():
        counts = sums.buckets[bucket]
        assert (counts["agent_available_s"], counts["agent_on_call_s"],
                counts["agent_wrap_up_s"]) == (available, on_call, wrap_up), bucket  # fmt: skip
    assert {b for b, c in sums.buckets.items() if figures.signed_in_s(c)} == set(AGENT_BUCKETS)
    per_agent = figures.agents(sums)
    assert per_agent[p] == figures.AgentFigures(
        handled=2, aht_s=302.5, wrap_s=90.0, occupancy=pytest.approx(1 / 6), signed_in_s=3600
    )
    assert per_agent[q] == figures.AgentFigures(0, None, None, 0.0, 6300)
    shown = figures.call_figures(sums.totals(), "count_against")
    assert shown.occupancy == pytest.approx(600 / 9900)
    assert (shown.answered, shown.aht_s, shown.wrap_s) == (2, 302.5, 90.0)


def test_time_is_clipped_to_the_range_and_to_now(database: Database) -> None:
    p, q = agents(database)
    load_agents(database, p, q)
    with UnitOfWork(database) as uow:
        sums = Sums()  # 14:15–14:52: P available 5 + 10 min, on a call 2; Q 15 + 7 min
        add_agent_time(sums, uow.session, local(14, 15), local(14, 52))
    assert sums.agents[p]["available_s"] == 900 and sums.agents[p]["on_call_s"] == 120
    assert sums.agents[q]["available_s"] == 1320
    early = exact(database, local(15, 0))  # read at 15:00: Q's open stretch ends there
    assert early.agents[q]["available_s"] == 1800 + 900


def test_rollups_equal_the_raw_computation_with_agent_time(database: Database) -> None:
    p, q = agents(database)
    load(database, p)
    load_agents(database, p, q)
    report = refresh(database, RULES, TZ, AGENTS_NOW)
    assert report.covered_until == AGENTS_NOW - timedelta(seconds=60)
    assert rolled(database, AGENTS_NOW).normalised() == exact(database, AGENTS_NOW).normalised()
    with UnitOfWork(database) as uow:  # rebuilding the day changes nothing
        rebuild_day(uow.session, DAY_START, report.covered_until, RULES, TZ)
        uow.commit()
    assert rolled(database, AGENTS_NOW).normalised() == exact(database, AGENTS_NOW).normalised()
    later = AGENTS_NOW + timedelta(minutes=7, seconds=30)  # Q stays signed in: time accrues
    assert rolled(database, later).normalised() == exact(database, later).normalised()
    refresh(database, RULES, TZ, later)
    assert rolled(database, later).normalised() == exact(database, later).normalised()
    by_day = read_sums_by_day(database, later)
    assert by_day.totals() == exact(database, later).totals()
    assert by_day.agents == exact(database, later).agents


def read_sums_by_day(db: Database, now: datetime) -> Sums:
    with UnitOfWork(db) as uow:
        return read_sums(uow.session, DAY_START, DAY_END, RULES, TZ, now=now, by_day=True)


def test_a_wrap_up_after_the_rollup_is_picked_up_by_the_next_refresh(database: Database) -> None:
    p, q = agents(database)
    load_agents(database, p, q)
    with UnitOfWork(database) as uow:  # call H still being wrapped up at the first refresh
        uow.session.execute(update(Call).where(Call.call_sid == "CA-h").values(wrapped_up_at=None))
        uow.commit()
    refresh(database, RULES, TZ, local(15, 0))
    assert figures.agents(rolled(database, local(15, 0)))[p].aht_s == pytest.approx((240 + 245) / 2)
    with UnitOfWork(database) as uow:
        uow.session.execute(
            update(Call).where(Call.call_sid == "CA-h").values(wrapped_up_at=local(15, 1))
        )
        uow.commit()
    report = refresh(database, RULES, TZ, local(15, 3))
    assert report.days == 1
    # wrap-up from the 14:54 wrap_up event to 15:01: 420 s
    assert figures.agents(rolled(database, local(15, 3)))[p].aht_s == (240 + 245 + 420) / 2


def test_days_without_calls_get_agent_time_and_quiet_refreshes_rebuild_nothing(
    database: Database,
) -> None:
    p, q = agents(database)
    load_agents(database, p, q)
    next_day = DAY_END + timedelta(hours=3)
    report = refresh(database, RULES, TZ, next_day)  # Q signed in overnight: two days
    assert report.days == 2
    set_state_by_hand(database, q, "away", next_day)
    refresh(database, RULES, TZ, next_day + timedelta(minutes=2))
    quiet = refresh(database, RULES, TZ, next_day + timedelta(minutes=10))
    assert quiet.days == 0  # everyone away and nothing changed: no rebuild
    with UnitOfWork(database) as uow:
        whole = read_sums(uow.session, DAY_START, DAY_END + timedelta(days=1), RULES, TZ,
                          now=next_day + timedelta(hours=1))  # fmt: skip
    assert whole.agents[q]["available_s"] == 1800 + (12 * 3600 + 15 * 60)  # 14:45 → 03:00


def test_refreshing_minute_by_minute_adds_up_to_a_rebuild(database: Database) -> None:
    """After the first rebuild each refresh only adds its window: calls that ended in it, the
    wrap-ups of calls that ended before it (H is wrapped up two minutes after its end), and the
    agents' time. Every three minutes through the afternoon, that adds up to a full rebuild and
    to the raw computation, and a refresh with nothing new adds nothing."""
    p, q = agents(database)
    load(database, p)
    load_agents(database, p, q)
    moment = local(13, 0)
    refresh(database, RULES, TZ, moment)  # the first run rebuilds
    while moment < AGENTS_NOW:
        moment += timedelta(minutes=3)
        refresh(database, RULES, TZ, moment)
    added = rolled(database, moment)
    assert refresh(database, RULES, TZ, moment).days == 0  # the same minute again: nothing
    assert rolled(database, moment).normalised() == added.normalised()
    forget(database)
    rebuilt_report = refresh(database, RULES, TZ, moment)
    assert rebuilt_report.days == 1
    assert added.normalised() == rolled(database, moment).normalised()
    assert added.normalised() == exact(database, moment).normalised()  # H's wrap-up included


def test_two_refreshes_at_once_never_interleave(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second refresh (another worker, or `hotline metrics rollup`) waits for the first's
    lock and then adds only its own window: no second rebuild over the first one's rows."""
    p, q = agents(database)
    load(database, p)
    load_agents(database, p, q)
    rebuilding = threading.Event()
    real_rebuild = rollup.rebuild_day

    def slow_rebuild(*args: Any) -> int:
        if threading.current_thread() is not threading.main_thread():  # the first refresh
            rebuilding.set()
            time.sleep(0.5)  # still working when the second one starts and ends
        return real_rebuild(*args)

    monkeypatch.setattr(rollup, "rebuild_day", slow_rebuild)
    first = threading.Thread(target=refresh, args=(database, RULES, TZ, local(14, 0)))
    first.start()
    assert rebuilding.wait(5)
    if database.dialect == "postgresql":  # the worker's round does not queue behind it
        assert refresh(database, RULES, TZ, AGENTS_NOW, wait=False).busy
    second = refresh(database, RULES, TZ, AGENTS_NOW)
    first.join(10)
    assert second.covered_until == AGENTS_NOW - timedelta(seconds=60)
    assert rolled(database, AGENTS_NOW).normalised() == exact(database, AGENTS_NOW).normalised()


def test_an_end_logged_while_a_day_is_rebuilt_is_added_by_the_next_refresh(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if database.dialect == "sqlite":
        pytest.skip("SQLite's BEGIN IMMEDIATE keeps the flusher out while a day is rebuilt")
    p, q = agents(database)
    load(database, p)
    load_agents(database, p, q)
    real_iter_facts = accumulate.iter_facts
    committed: list[str] = []

    def flusher_commits_meanwhile(*args: Any, **kwargs: Any) -> Iterator[Any]:
        yield from real_iter_facts(*args, **kwargs)  # the day's calls are read...
        if not committed:  # ...and before they are marked, the flusher logs one more end
            committed.append("CA-meanwhile")
            add_call(database, "CA-meanwhile", local(15, 0), queue(5, "connect"), end_after=30,
                     number="+66888888888")  # fmt: skip

    monkeypatch.setattr(accumulate, "iter_facts", flusher_commits_meanwhile)
    monkeypatch.setattr(rollup, "iter_facts", flusher_commits_meanwhile)
    refresh(database, RULES, TZ, AGENTS_NOW)  # the rebuild did not count CA-meanwhile...
    monkeypatch.undo()
    assert committed
    refresh(database, RULES, TZ, AGENTS_NOW + timedelta(minutes=1))  # ...so this adds it
    later = AGENTS_NOW + timedelta(minutes=1)
    assert rolled(database, later).normalised() == exact(database, later).normalised()
    with UnitOfWork(database) as uow:
        assert raw_sums(uow.session, Call.rolled_up_at.is_(None), RULES, TZ).buckets == {}
