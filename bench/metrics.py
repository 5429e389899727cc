"""Benchmark: dashboard query times over a year of call events on PostgreSQL.

Generates ``BENCH_EVENTS`` call events (default 10,000,000) spread over the last 365 days with a
hotline's shape — office-hour and weekday peaks, IVR complaint and status paths, queue waits that
grow at peak, abandons, IVR hang-ups, surveys, repeat callers — into a database of its own
(``bench_metrics``, recreated each run) with COPY, builds the rollups as the worker would, then
times the supervisor dashboard (the whole page through the app: rollups, the raw tail, ticket
figures, charts and tables) for 1, 30 and 365 days, in three states:

- ``dashboard_*``: right after the build (every call marked at once; the statistics gathered
  after COPY counted every call as left);
- ``backlog_dashboard_*``: the worker was down for an hour at the national peak — an hour of
  calls at the busiest hour's rate (``backlog_calls``) is in the call log and not in the
  rollups, so each page reads it from the raw tail;
- ``caught_up_dashboard_*``: after the worker's next refresh added that hour (``catch_up_ms``).

Prints one JSON line. The baseline, measured in the same run, is the app's health check page:
the floor of any request through the stack. Target (issues 6 and 22): every range under 300 ms
in every state. Page views only read (as in production); the rollups are refreshed here
exactly where the worker would refresh them.

    BENCH_EVENTS=10000000 python bench/metrics.py
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config import Settings
from hotline import create_app
from hotline.metrics.service import refresh_rollups
from hotline.migrate import upgrade
from hotline.runtime import runtime
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.permissions import Actor
from ticketing.users import NewUser, create_user

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/bench_metrics")
EVENTS = int(os.environ.get("BENCH_EVENTS", "10000000"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
DAYS = 365
TZ_OFFSET = timedelta(hours=7)  # Bangkok
# Share of the day's calls in each Bangkok hour, and the weekday factor (Monday first).
HOURS = (1, 1, 1, 1, 1, 2, 3, 5, 9, 11, 11, 10, 8, 10, 11, 10, 8, 6, 5, 4, 3, 2, 2, 1)
WEEKDAYS = (1.15, 1.05, 1.0, 1.0, 0.95, 0.45, 0.35)
EVENTS_PER_CALL = 7.6  # what the mix below averages, to size the number of calls
OUTAGE = timedelta(hours=1)  # the worker down at the national peak
BACK_AFTER = timedelta(minutes=10)  # pages are read, then the worker returns, this long after
TARGET_MS = 300
PASSWORD = "bench-password-1567"  # noqa: S105 - a throwaway user in a throwaway database
CALL_COLUMNS = ("id", "call_sid", "from_number", "from_raw", "to_number", "direction",
                "twilio_status", "outcome", "last_node", "started_at", "answered_at", "ended_at",
                "duration_s", "queue_wait_s", "last_sequence", "is_training")  # fmt: skip
EVENT_COLUMNS = ("id", "call_id", "kind", "node", "value", "at", "data")

Event = tuple[str, str | None, str | None, float, str | None]


def prepare() -> None:
    admin_url, _, name = URL.rpartition("/")
    with psycopg.connect(admin_url + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    db = Database.connect(URL)
    upgrade(db)
    create_user(UnitOfWork(db), NewUser(username="bench.supervisor", display_name="bench",
                                       password=PASSWORD, role="supervisor", center_code=None,
                                       agency_code=None), Actor.system("bench"))  # fmt: skip
    db.dispose()


class Hotline:
    """One synthetic call at a time: (call row, its events)."""

    def __init__(self, rng: random.Random, callers: int) -> None:
        self.rng = rng
        self.callers = callers

    def call(self, start: datetime, load: float) -> tuple[dict[str, Any], list[Event]]:
        rng = self.rng
        events: list[Event] = [("ivr_enter", "main_menu", None, 0.0, None)]
        t = rng.uniform(6, 20)
        kind = rng.random()
        if kind < 0.3:
            outcome, t = self._complaint(events, t)
        elif kind < 0.5:
            outcome, t = self._status(events, t)
        elif kind < 0.9:
            outcome, t = self._agent(events, t, load)
        else:
            outcome, t = self._drop(events, t)
        number = f"+668{rng.randrange(self.callers):08d}" if rng.random() < 0.97 else None
        row = {"from_number": number, "outcome": outcome, "last_node": events[-1][1],
               "started_at": start, "ended_at": start + timedelta(seconds=t)}  # fmt: skip
        return row, events

    def _complaint(self, events: list[Event], t: float) -> tuple[str, float]:
        rng = self.rng
        events.append(("ivr_input", "main_menu", "1", t, None))
        for node in ("complaint_category", "postal_code", "citizen_id", "record_complaint"):
            events.append(("ivr_enter", node, None, t, None))
            t += rng.uniform(5, 30)
            if rng.random() < 0.05:
                return "abandoned_ivr", t
            events.append(("ivr_input", node, "ok", t, None))
        events.append(("ticket_filed", "file_ticket", None, t, None))
        events.append(("ivr_enter", "ticket_filed", None, t, None))
        return "self_service", t + rng.uniform(10, 30)

    def _status(self, events: list[Event], t: float) -> tuple[str, float]:
        events.append(("ivr_input", "main_menu", "2", t, None))
        events.append(("ivr_enter", "status_number", None, t, None))
        t += self.rng.uniform(10, 30)
        events.append(("ivr_input", "status_number", "number", t, None))
        events.append(("status_heard", "lookup_status", None, t, None))
        events.append(("ivr_enter", "status_result", None, t, None))
        return "self_service", t + 15

    def _agent(self, events: list[Event], t: float, load: float) -> tuple[str, float]:
        rng = self.rng
        events.append(("ivr_input", "main_menu", "0", t, None))
        events.append(("ivr_enter", "to_agent", None, t, None))
        events.append(("enqueue", "to_agent", "agents", t, None))
        wait = int(rng.expovariate(1 / (10 + 40 * load)))
        if rng.random() < 0.04 + 0.12 * load * min(wait / 60, 1):
            events.append(("abandon", "to_agent", None, t + wait, json.dumps({"wait_s": wait})))
            return "abandoned_queue", t + wait
        t += wait
        events.append(("connect", "to_agent", None, t, json.dumps({"wait_s": wait})))
        talk = int(rng.lognormvariate(5.2, 0.5))
        t += talk
        data = json.dumps({"talk_s": talk, "wrap_s": rng.randint(15, 90)})
        events.append(("complete", "to_agent", "agent", t, data))
        events.append(("ivr_enter", "survey", None, t, None))
        if rng.random() < 0.6:
            t += rng.uniform(3, 10)
            score = rng.choices("54321", weights=(45, 30, 12, 7, 6))[0]
            events.append(("survey_answer", "survey", score, t, None))
        return "answered", t + 3

    def _drop(self, events: list[Event], t: float) -> tuple[str, float]:
        kind = "ivr_no_input" if self.rng.random() < 0.6 else "ivr_invalid"
        events.append((kind, "main_menu", None, t, None))
        return "abandoned_ivr", t + 4


def generate(now: datetime, target_events: int) -> int:
    """COPY a year of calls and events; returns the number of events written."""
    rng = random.Random(1567)
    calls_wanted = target_events / EVENTS_PER_CALL
    weights = [WEEKDAYS[(now - timedelta(days=d)).weekday()] for d in range(DAYS)]
    per_weight = calls_wanted / sum(weights)
    hotline = Hotline(rng, callers=max(int(calls_wanted * 0.8), 1))
    hour_total = sum(HOURS)
    call_id = event_id = 0
    first_day = (now + TZ_OFFSET).date() - timedelta(days=DAYS)
    with psycopg.connect(URL) as conn, tqdm(total=target_events, unit="ev", file=sys.stderr,
                                             desc="events") as bar:  # fmt: skip
        for offset in range(DAYS):
            local_day = first_day + timedelta(days=offset + 1)
            day_calls = rng.gauss(1, 0.08) * per_weight * WEEKDAYS[local_day.weekday()]
            calls_rows: list[tuple[Any, ...]] = []
            event_rows: list[tuple[Any, ...]] = []
            for hour, share in enumerate(HOURS):
                load = share / max(HOURS)
                for _ in range(max(int(day_calls * share / hour_total), 0)):
                    moment = _moment(local_day, hour, rng.uniform(0, 3600))
                    if moment > now - timedelta(minutes=10):
                        continue
                    row, events = hotline.call(moment, load)
                    call_id += 1
                    calls_rows.append(_call_row(call_id, row))
                    for kind, node, value, at, data in events:
                        event_id += 1
                        event_rows.append((event_id, call_id, kind, node, value,
                                           moment + timedelta(seconds=at), data))  # fmt: skip
            _copy(conn, "calls", CALL_COLUMNS, calls_rows)
            _copy(conn, "call_events", EVENT_COLUMNS, event_rows)
            conn.commit()
            bar.update(len(event_rows))
        for table in ("calls", "call_events"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                         f"(SELECT max(id) FROM {table}))")  # fmt: skip
        conn.execute("ANALYZE")
        conn.commit()
    return event_id


def peak_hour_calls(target_events: int) -> int:
    """Calls in the busiest hour of the busiest weekday, at the rates :func:`generate` uses."""
    calls_wanted = target_events / EVENTS_PER_CALL
    mean_weekday = sum(WEEKDAYS) / len(WEEKDAYS)
    per_day = calls_wanted / (DAYS * mean_weekday)
    return round(per_day * max(WEEKDAYS) * max(HOURS) / sum(HOURS))


def backlog(start: datetime, calls: int) -> int:
    """COPY ``calls`` calls (at peak load) started in the hour from ``start``: what the call log
    holds and the rollups lack after the worker was down for that hour. Returns the events."""
    rng = random.Random(22)
    hotline = Hotline(rng, callers=max(int(EVENTS / EVENTS_PER_CALL * 0.8), 1))
    with psycopg.connect(URL) as conn:
        call_id, event_id = conn.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM calls), "
            "(SELECT coalesce(max(id), 0) FROM call_events)"
        ).fetchone() or (0, 0)
        calls_rows: list[tuple[Any, ...]] = []
        event_rows: list[tuple[Any, ...]] = []
        for _ in range(calls):
            moment = start + timedelta(seconds=rng.uniform(0, OUTAGE.total_seconds()))
            row, events = hotline.call(moment, 1.0)
            call_id += 1
            calls_rows.append(_call_row(call_id, row))
            for kind, node, value, at, data in events:
                event_id += 1
                event_rows.append((event_id, call_id, kind, node, value,
                                   moment + timedelta(seconds=at), data))  # fmt: skip
        _copy(conn, "calls", CALL_COLUMNS, calls_rows)
        _copy(conn, "call_events", EVENT_COLUMNS, event_rows)
        for table in ("calls", "call_events"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                         f"(SELECT max(id) FROM {table}))")  # fmt: skip
        conn.commit()
    return len(event_rows)


def _moment(local_day: date, hour: int, seconds: float) -> datetime:
    midnight = datetime(local_day.year, local_day.month, local_day.day, tzinfo=UTC) - TZ_OFFSET
    return midnight + timedelta(hours=hour, seconds=seconds)


def _call_row(call_id: int, row: dict[str, Any]) -> tuple[Any, ...]:
    answered = None
    duration = int((row["ended_at"] - row["started_at"]).total_seconds())
    return (call_id, f"CA{call_id:032x}", row["from_number"], row["from_number"] or "anonymous",
            "1567", "inbound", "completed", row["outcome"], row["last_node"], row["started_at"],
            answered, row["ended_at"], duration, None, 1, False)  # fmt: skip


def _copy(conn: psycopg.Connection[Any], table: str, columns: tuple[str, ...],
          rows: list[tuple[Any, ...]]) -> None:  # fmt: skip
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def timed(action: Callable[[], Any], runs: int = RUNS) -> float:
    """Median milliseconds of ``runs`` calls (after one warm-up)."""
    action()
    samples = []
    for _ in range(runs):
        begun = time.perf_counter()
        action()
        samples.append((time.perf_counter() - begun) * 1000)
    return round(statistics.median(samples), 1)


def main() -> None:
    now = datetime.now(UTC)
    prepare()
    begun = time.perf_counter()
    events = generate(now, EVENTS)
    generate_s = time.perf_counter() - begun
    instance = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    settings = Settings(database_url=URL, instance_dir=instance, log_level="WARNING")
    app = create_app(settings)
    rt = runtime(app)
    begun = time.perf_counter()
    with tqdm(total=DAYS + 1, desc="rollup days", file=sys.stderr) as bar:

        def advance(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        report = refresh_rollups(rt, advance)
    rollup_s = time.perf_counter() - begun
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    client.post("/auth/login", data={"username": "bench.supervisor", "password": PASSWORD,
                                      "csrf_token": token.group(1)})  # fmt: skip

    def dashboard(days: int) -> Callable[[], Any]:
        last = (rt.clock() + TZ_OFFSET).date()
        first = last - timedelta(days=days - 1)

        def load() -> None:
            response = client.get("/console/metrics", query_string={
                "from": first.isoformat(), "to": last.isoformat(),
                "interval": "hour" if days == 1 else "day" if days <= 31 else "week"})  # fmt: skip
            if response.status_code != 200 or "data-chart" not in response.get_data(as_text=True):
                raise RuntimeError(f"dashboard for {days} days answered {response.status_code}")

        return load

    def pages(prefix: str) -> dict[str, float]:
        return {f"{prefix}dashboard_{d}d_ms": timed(dashboard(d)) for d in (1, 30, 365)}

    figures: dict[str, Any] = {
        "events": events,
        "calls": _count_calls(rt),
        "generate_s": round(generate_s, 1),
        "rollup_s": round(rollup_s, 1),
        "rollup_days": report.days,
        "baseline_healthz_ms": timed(lambda: client.get("/healthz")),
        **pages(""),
    }
    # The worker goes down at the build's cut-off; an hour of peak calls reaches the call log.
    peak = peak_hour_calls(EVENTS)
    figures["backlog_calls"] = peak
    down = report.covered_until or now
    figures["backlog_events"] = backlog(down, peak)
    back = down + OUTAGE + BACK_AFTER
    rt.clock = lambda: back
    figures.update(pages("backlog_"))
    begun = time.perf_counter()
    refresh_rollups(rt)  # the worker's first round when it is back
    figures["catch_up_ms"] = round((time.perf_counter() - begun) * 1000, 1)
    figures.update(pages("caught_up_"))
    timings = [v for k, v in figures.items() if k.endswith("_ms") and "dashboard_" in k]
    figures["target_ms"] = TARGET_MS
    figures["target_met"] = all(t < TARGET_MS for t in timings)
    print(json.dumps(figures))


def _count_calls(rt: Any) -> int:
    with rt.db.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM calls").scalar() or 0)


if __name__ == "__main__":
    main()
