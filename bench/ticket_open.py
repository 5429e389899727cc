"""Benchmark: tickets opened per second through the service on PostgreSQL.

Prints one JSON line. The baseline, measured in the same run on the same database, is a bare
single-row INSERT + COMMIT per ticket through SQLAlchemy Core: the floor any service that
commits each ticket pays. Target (issue 2): at least 500 tickets/s per process.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/hotline_bench python bench/ticket_open.py
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hotline.migrate import upgrade
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.filing import TicketDraft
from ticketing.permissions import Actor
from ticketing.services import open_ticket

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/hotline_bench")
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
PROCESSES = 4
DRAFT = TicketDraft(
    channel="phone",
    category_code="request_help",
    description="น้ำประปาไม่ไหลมาสามวันแล้ว ขอให้เร่งแก้ไข",
    caller_phone="+66812345678",
    citizen_id="1101700207030",
    province_code="50",
    district_code="5001",
    subdistrict_code="500101",
    postal_code="50200",
)
ACTOR = Actor.system("bench")


def prepare() -> None:
    admin_url, _, name = URL.rpartition("/")
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    db = Database.connect(URL)
    upgrade(db)
    with db.engine.begin() as conn:
        conn.execute(text("CREATE TABLE bench_baseline (id serial primary key, number text)"))
    db.dispose()


def open_tickets(seconds: float) -> int:
    db = Database.connect(URL, pool=True)
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        open_ticket(UnitOfWork(db), DRAFT, ACTOR)
        count += 1
    db.dispose()
    return count


def baseline_inserts(seconds: float) -> int:
    db = Database.connect(URL)
    table = Table("bench_baseline", MetaData(), Column("id", Integer), Column("number", String))
    count = 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        with db.engine.begin() as conn:
            conn.execute(insert(table).values(number="6900000000"))
        count += 1
    db.dispose()
    return count


def in_parallel(func: object, processes: int, seconds: float) -> list[int]:
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        return pool.map(func, [seconds] * processes)  # type: ignore[arg-type]


def main() -> None:
    prepare()
    open_tickets(1.0)  # warm up imports, pools and caches
    one = open_tickets(SECONDS) / SECONDS
    base_one = baseline_inserts(SECONDS) / SECONDS
    four = sum(in_parallel(open_tickets, PROCESSES, SECONDS)) / SECONDS
    base_four = sum(in_parallel(baseline_inserts, PROCESSES, SECONDS)) / SECONDS
    print(
        json.dumps(
            {
                "bench": "ticket_open",
                "database": "postgresql",
                "seconds_per_run": SECONDS,
                "tickets_per_s_1_process": round(one, 1),
                "tickets_per_s_4_processes": round(four, 1),
                "tickets_per_s_per_process_at_4": round(four / PROCESSES, 1),
                "baseline_insert_commit_per_s_1_process": round(base_one, 1),
                "baseline_insert_commit_per_s_4_processes": round(base_four, 1),
                "ratio_to_baseline_1_process": round(one / base_one, 3),
                "target_per_process": 500,
                "cpu_cores": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
