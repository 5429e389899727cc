"""Supervisor figures against a hand-computed call log, on SQLite and PostgreSQL.

Also: the rollups equal the raw computation, rebuilding is idempotent, and the live tail fills in
calls that ended after the last rollup.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline.calls.models import Call
from hotline.metrics import figures
from hotline.metrics.accumulate import Sums, raw_sums
from hotline.metrics.facts import Rules
from hotline.metrics.rollup import read_sums, rebuild_day, refresh
from tests.factories import make_user
from tests.integration.metrics_fixture import (
    DAY_START,
    EXPECTED_FUNNEL,
    EXPECTED_TOTALS,
    T0,
    add_call,
    load,
    queue,
)
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

TZ = ZoneInfo("Asia/Bangkok")
RULES = Rules(service_level_s=20, short_abandon_s=5)
DAY_END = DAY_START + timedelta(days=1)


def raw(db: Database) -> Sums:
    with UnitOfWork(db) as uow:
        return raw_sums(uow.session, Call.started_at >= DAY_START, RULES, TZ)


def rolled(db: Database, now: datetime = DAY_END) -> Sums:
    with UnitOfWork(db) as uow:
        return read_sums(uow.session, DAY_START, DAY_END, RULES, TZ, now=now)


def test_call_counts_match_the_hand_computed_fixture(database: Database) -> None:
    agent = make_user(database, "agent")
    load(database, agent.user_id)
    sums = raw(database)
    assert dict(sums.totals()) == {k: v for k, v in EXPECTED_TOTALS.items() if v}
    assert {bucket.minute for bucket in sums.buckets} == {0, 30}
    assert [sums.buckets[T0 + timedelta(minutes=m)]["calls"] for m in (0, 30, 60)] == [3, 2, 1]
    assert dict(figures.funnel(sums)) == EXPECTED_FUNNEL
    shown = figures.agents(sums)
    assert (shown[agent.user_id].handled, shown[agent.user_id].aht_s) == (1, 200.0)
    assert (shown[0].handled, shown[0].aht_s, shown[0].wrap_s) == (1, 120.0, 20.0)


def test_rates_and_averages(database: Database) -> None:
    load(database, None)
    shown = figures.call_figures(raw(database).totals(), "count_against")
    assert shown.asa_s == 22.5
    assert shown.aht_s == 160
    assert shown.max_wait_s == 40
    assert shown.abandon_rate == pytest.approx(1 / 3)  # the 3-second abandon is left out
    assert shown.service_level == pytest.approx(1 / 3)
    assert shown.containment == pytest.approx(1 / 6)
    assert shown.repeat_rate == pytest.approx(1 / 5)
    assert shown.csat == 0.5
    assert shown.survey_response_rate == 1.0
    totals = raw(database).totals()
    assert figures.service_level(totals, "ignore") == 0.5
    assert figures.service_level({**totals, "abandoned_in_sl": 1}, "count_in_sl") == pytest.approx(
        2 / 3
    )


def test_heatmap_and_series_use_local_time(database: Database) -> None:
    load(database, None)
    sums = raw(database)
    grid = figures.heatmap(sums)
    assert grid[0][9] == 5 and grid[0][10] == 1  # Monday 09:00 and 10:00 in Bangkok
    by_hour = figures.series(sums, "hour", TZ)
    assert [(start.hour, counts["calls"]) for start, counts in by_hour] == [(9, 5), (10, 1)]
    by_week = figures.series(sums, "week", TZ)
    assert len(by_week) == 1 and by_week[0][0].day == 2 and by_week[0][1]["max_wait_s"] == 40


def test_rollups_equal_the_raw_computation_and_rebuilding_changes_nothing(
    database: Database,
) -> None:
    load(database, None)
    now = T0 + timedelta(hours=2)
    report = refresh(database, RULES, TZ, now)
    assert report.days == 1
    assert rolled(database).normalised() == raw(database).normalised()
    with UnitOfWork(database) as uow:  # the tail is empty: the figures came from the rollups
        assert raw_sums(uow.session, Call.ended_at >= report.covered_until, RULES, TZ).buckets == {}
    refresh(database, RULES, TZ, now + timedelta(minutes=5))
    with UnitOfWork(database) as uow:
        rebuild_day(uow.session, DAY_START, now, RULES, TZ)
        uow.commit()
    assert rolled(database).normalised() == raw(database).normalised()


def test_calls_ending_after_the_rollup_come_from_the_tail(database: Database) -> None:
    load(database, None)
    refresh(database, RULES, TZ, T0 + timedelta(hours=2))
    add_call(database, "CA-late", T0 + timedelta(hours=2), queue(8, "connect"), end_after=60,
             number="+66855555555")  # fmt: skip
    sums = rolled(database)
    assert sums.totals()["answered"] == 3
    assert sums.normalised() == raw(database).normalised()
    refresh(database, RULES, TZ, T0 + timedelta(hours=3))
    assert rolled(database).normalised() == raw(database).normalised()


def test_long_ranges_read_whole_days_summed_by_the_database(database: Database) -> None:
    load(database, None)
    add_call(database, "CA-next-day", T0 + timedelta(days=1), queue(8, "connect"), end_after=60,
             number="+66855555555")  # fmt: skip
    refresh(database, RULES, TZ, T0 + timedelta(days=2))
    with UnitOfWork(database) as uow:
        by_day = read_sums(uow.session, DAY_START, DAY_END + timedelta(days=1), RULES, TZ,
                           now=T0 + timedelta(days=2), by_day=True)  # fmt: skip
    assert sorted(by_day.buckets) == [DAY_START, DAY_END]  # one bucket per local day
    exact = raw(database)
    assert by_day.totals() == exact.totals()
    assert figures.series(by_day, "day", TZ) == figures.series(exact, "day", TZ)
    assert figures.heatmap(by_day) == figures.heatmap(exact)
    assert figures.funnel(by_day) == figures.funnel(exact)


def test_a_call_whose_end_reaches_the_log_late_is_added_once(database: Database) -> None:
    load(database, None)
    refresh(database, RULES, TZ, T0 + timedelta(hours=2))
    # The flusher was behind: this call ended at 09:31, but the log learns of it after 10:59.
    add_call(database, "CA-logged-late", T0 + timedelta(minutes=30), queue(8, "connect"),
             end_after=60, number="+66855555555")  # fmt: skip
    assert rolled(database).normalised() == raw(database).normalised()  # from the tail first
    refresh(database, RULES, TZ, T0 + timedelta(hours=2, minutes=1))
    with UnitOfWork(database) as uow:  # then in the rollups: nothing is left for the tail
        assert raw_sums(uow.session, Call.rolled_up_at.is_(None), RULES, TZ).buckets == {}
    assert rolled(database).normalised() == raw(database).normalised()
    refresh(database, RULES, TZ, T0 + timedelta(hours=2, minutes=5))
    assert rolled(database).normalised() == raw(database).normalised()  # and only once
