"""Metric pages only read, and finding the calls the rollups lack never depends on fresh
statistics (issue 22).

A page view once ran a rollup refresh (an UPDATE of practice calls, then a select of the calls
left ordered by ``calls.id``), and that select was planned as a walk of the primary key whenever
PostgreSQL's statistics still counted most calls as left, as they do right after a bulk marking.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.engine import Engine

import hotline.cli
import hotline.metrics.live as live
import hotline.metrics.rollup as rollup
from hotline.background.jobs import InlineJobs
from hotline.calls.models import Call
from hotline.cli import main
from hotline.metrics.facts import Rules
from hotline.metrics.rollup import covered_until, read_sums, refresh
from hotline.metrics.service import REFRESH_JOB, RollupKeeper
from hotline.runtime import runtime
from tests.factories import SYSTEM, make_agency, make_user
from tests.integration.metrics_fixture import DAY_START, T0, add_call, load, queue
from tests.integration.test_metrics_views import client_for
from ticketing.db.engine import Database
from ticketing.db.uow import JobRequest, UnitOfWork
from ticketing.models import User
from ticketing.tokens import create_token

TZ = ZoneInfo("Asia/Bangkok")
RULES = Rules(service_level_s=20, short_abandon_s=5)
DAY = {"from": "2026-11-02", "to": "2026-11-02"}
YEAR = {"from": "2025-11-03", "to": "2026-11-02", "interval": "week"}
WRITES = re.compile(
    r"^\s*(INSERT|UPDATE|DELETE|MERGE|REPLACE|TRUNCATE|ANALYZE|VACUUM|CREATE|DROP|ALTER)\b", re.I
)
NOT_ROLLED_UP = re.compile(r"rolled_up_at IS NULL", re.I)


@contextmanager
def statements(engine: Engine | type[Engine]) -> Iterator[list[tuple[str, Any]]]:
    """Every statement (and its parameters) sent through ``engine`` (or every engine)
    meanwhile."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, sql: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((sql, params))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def writes(seen: list[tuple[str, Any]]) -> list[str]:
    return [" ".join(sql.split())[:120] for sql, _ in seen if WRITES.match(sql)]


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(recordings_dir=tmp_path / "recordings")


def behind_the_log(database: Database) -> datetime:
    """The fixture day rolled up to 10:59 in Bangkok, then a call the rollups do not have yet."""
    load(database, None)
    refresh(database, RULES, TZ, T0 + timedelta(hours=2))
    add_call(database, "CA-tail", T0 + timedelta(hours=2), queue(8, "connect"), end_after=60,
             number="+66855555555")  # fmt: skip
    with UnitOfWork(database) as uow:
        until = covered_until(uow.session)
    assert until is not None
    return until


def test_metric_pages_never_write(
    app: Flask, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Dashboard (1 day, 30 days, a year, an agency's), exports, wallboard and its stream,
    staffing and the call API: the SQL of each view holds no INSERT, UPDATE or DELETE, though
    the rollups are behind (the worker's job) and the tail's call still shows."""
    until = behind_the_log(database)
    rt = runtime(app)
    rt.clock = lambda: T0 + timedelta(hours=5)  # hours after the rollups' cut-off
    monkeypatch.setattr(live, "STREAM_SECONDS", 0.3)
    supervisor = client_for(app, database, "supervisor")
    agency = make_agency(database)
    agency_user = client_for(app, database, "agency", agency_code=agency.code)
    staff = make_user(database, "supervisor")
    with UnitOfWork(database) as uow:
        username = uow.session.get_one(User, staff.user_id).username
    token = create_token(UnitOfWork(database), "reports", ["calls:read"], SYSTEM, username=username)
    bearer = {"Authorization": f"Bearer {token[1]}"}
    api = app.test_client()
    assert api.get("/api/v1/calls", headers=bearer).status_code == 200  # records the token's use
    pages: dict[str, tuple[Any, str, dict[str, str]]] = {
        "dashboard, 1 day": (supervisor, "/console/metrics", {**DAY, "interval": "hour"}),
        "dashboard, 30 days": (supervisor, "/console/metrics", {}),
        "dashboard, a year": (supervisor, "/console/metrics", YEAR),
        "dashboard, agency": (agency_user, "/console/metrics", DAY),
        "export, csv": (supervisor, "/console/metrics/export/calls", {**DAY, "format": "csv"}),
        "export, xlsx": (supervisor, "/console/metrics/export/agents", {**DAY, "format": "xlsx"}),
        "wallboard": (supervisor, "/console/wallboard", {}),
        "wallboard stream": (supervisor, "/console/wallboard/stream", {}),
        "staffing": (supervisor, "/console/staffing",
                     {"day": "2026-11-02", "calls": "100", "aht": "180", "agents": "14"}),
        "API, calls": (api, "/api/v1/calls", {}),
        "API, one call": (api, "/api/v1/calls/CA-tail", {}),
    }  # fmt: skip
    written: dict[str, list[str]] = {}
    bodies: dict[str, bytes] = {}
    for name, (client, path, query) in pages.items():
        headers = bearer if client is api else {}
        with statements(rt.db.engine) as seen:
            response = client.get(path, query_string=query, headers=headers)
            bodies[name] = response.get_data()  # a stream runs to its end here
        assert response.status_code == 200, name
        assert seen, name
        if writes(seen):
            written[name] = writes(seen)
    assert written == {}
    assert b'data-figure="calls">7<' in bodies["dashboard, 1 day"]  # 6 rolled up + the tail's
    with UnitOfWork(database) as uow:
        assert covered_until(uow.session) == until  # still behind: nothing caught up on read


def test_the_embedded_mode_keeps_the_rollups_from_a_job_not_a_request(
    app: Flask, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hotline run`` with no worker starts a keeper that hands the refresh to the inline jobs;
    the job brings the rollups up to the app's clock."""
    behind_the_log(database)
    rt = runtime(app)
    rt.clock = lambda: T0 + timedelta(hours=5)
    jobs = rt.jobs
    assert isinstance(jobs, InlineJobs)
    dispatched: list[JobRequest] = []
    real_dispatch = jobs.dispatch

    def dispatch(job: JobRequest) -> None:
        dispatched.append(job)
        real_dispatch(job)

    monkeypatch.setattr(jobs, "dispatch", dispatch)
    keeper = RollupKeeper(rt, interval_s=3600)
    keeper.start()
    keeper.stop()  # after its first round
    jobs.join()
    assert dispatched == [REFRESH_JOB]
    with UnitOfWork(database) as uow:
        assert covered_until(uow.session) == T0 + timedelta(hours=5, seconds=-60)
        tail = select(Call.rolled_up_at).where(Call.call_sid == "CA-tail")
        assert uow.session.scalar(tail) is not None


@contextmanager
def stale_statistics(database: Database) -> Iterator[None]:
    """PostgreSQL without autovacuum on ``calls``, so statistics stay as a test leaves them."""
    with database.engine.begin() as conn:
        conn.execute(text("ALTER TABLE calls SET (autovacuum_enabled = false)"))
    try:
        yield
    finally:
        with database.engine.begin() as conn:
            conn.execute(text("ALTER TABLE calls RESET (autovacuum_enabled)"))


def null_fraction(database: Database) -> float:
    with database.engine.connect() as conn:
        value = conn.scalar(text("SELECT null_frac FROM pg_stats WHERE tablename = 'calls' "
                                 "AND attname = 'rolled_up_at'"))  # fmt: skip
    return float(value)


def a_year_of_calls(database: Database, count: int) -> None:
    """``count`` ended calls, one every few minutes back from the fixture day, no events."""
    rows = [{"call_sid": f"CA-old-{n}", "from_number": f"+6681{n % 5000:07d}",
             "started_at": DAY_START - timedelta(minutes=7 * (n + 1)),
             "ended_at": DAY_START - timedelta(minutes=7 * (n + 1) - 2),
             "twilio_status": "completed", "outcome": "abandoned_ivr"}
            for n in range(count)]  # fmt: skip
    with UnitOfWork(database) as uow:
        uow.session.execute(insert(Call), rows)
        uow.commit()


def test_the_calls_left_are_found_through_their_index_whatever_the_statistics_say(
    app: Flask, database: Database
) -> None:
    """Statistics gathered before a bulk marking say every call is left; the marks are there.
    Every query for the calls left, by a refresh or by a page's tail, still walks the partial
    index of them, not the primary key or the table."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite plans without statistics")
    with stale_statistics(database):
        a_year_of_calls(database, 60_000)
        load(database, None)
        with database.engine.begin() as conn:
            conn.execute(text("ANALYZE calls"))  # every call left, as after a migration
        marked_at = T0 + timedelta(hours=2)
        with UnitOfWork(database) as uow:  # the marks of a build, the statistics not told
            uow.session.execute(update(Call).where(Call.ended_at < marked_at)
                                .values(rolled_up_at=marked_at))  # fmt: skip
            uow.session.add(rollup.RollupState(id=rollup.STATE_ID, covered_until=marked_at))
            uow.commit()
        assert null_fraction(database) == 1.0
        add_call(database, "CA-tail", T0 + timedelta(hours=2), queue(8, "connect"),
                 end_after=60, number="+66855555555")  # fmt: skip
        with statements(database.engine) as seen:
            with UnitOfWork(database) as uow:
                start = DAY_START - timedelta(days=364)
                read_sums(uow.session, start, DAY_START + timedelta(days=1), RULES, TZ,
                          now=T0 + timedelta(hours=3))  # fmt: skip
            refresh(database, RULES, TZ, T0 + timedelta(hours=3))
        left = [(sql, params) for sql, params in seen if NOT_ROLLED_UP.search(sql)]
        assert left
        with database.engine.connect() as conn:
            for sql, params in left:  # planned as they were sent, with their values
                plan = "\n".join(conn.exec_driver_sql(f"EXPLAIN {sql}", params).scalars())
                assert "ix_calls_not_rolled_up" in plan, f"{sql}\n{plan}"
                assert "calls_pkey" not in plan and "Seq Scan on calls" not in plan, plan


def test_a_refresh_that_marks_many_calls_analyzes_what_it_marked(database: Database) -> None:
    """A first build (or a worker back from an outage) marks many calls at once: the statistics
    of ``rolled_up_at`` are gathered again in the same transaction, so the planner never works
    from the ones that counted every call as left."""
    if database.dialect != "postgresql":
        pytest.skip("SQLite plans without statistics")
    with stale_statistics(database):
        a_year_of_calls(database, 1500)
        load(database, None)
        with database.engine.begin() as conn:
            conn.execute(text("ANALYZE calls"))
        assert null_fraction(database) == 1.0
        refresh(database, RULES, TZ, T0 + timedelta(hours=2))
        assert null_fraction(database) < 0.01  # only the call still in progress is left


@pytest.fixture
def cli(database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The `hotline` command on the test database; the apps it builds closed afterwards."""
    apps: list[Flask] = []
    real_app = hotline.cli._app

    def app_kept() -> Flask:
        apps.append(real_app())
        return apps[-1]

    monkeypatch.setattr(hotline.cli, "_app", app_kept)
    yield CliRunner(env={"INSTANCE_DIR": str(tmp_path), "DATABASE_URL": database.url,
                         "REDIS_URL": ""})  # fmt: skip
    for app in apps:
        runtime(app).db.dispose()


def test_a_rebuild_updates_no_call_already_in_the_rollups(
    database: Database, cli: CliRunner
) -> None:
    """``hotline metrics rollup --rebuild`` (after a threshold change) recounts every call but
    leaves the marks of those already in: no update of the whole call table (which left the
    statistics counting every call as left), and the same figures."""
    load(database, None)
    assert cli.invoke(main, ["metrics", "rollup"]).exit_code == 0
    day = (DAY_START, DAY_START + timedelta(days=1), RULES, TZ)
    with UnitOfWork(database) as uow:
        before = read_sums(uow.session, *day, now=T0 + timedelta(hours=3))
    with statements(Engine) as seen:  # every engine: the command builds its own
        rebuilt = cli.invoke(main, ["metrics", "rollup", "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert "1 day(s) rebuilt" in rebuilt.output
    assert [sql for sql in writes(seen) if sql.upper().startswith("UPDATE CALLS")] == []
    with UnitOfWork(database) as uow:
        after = read_sums(uow.session, *day, now=T0 + timedelta(hours=3))
    assert after.normalised() == before.normalised()
