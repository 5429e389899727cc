"""Benchmark: reading the live queue (what every desk's stream does once a second) on PostgreSQL.

Prints one JSON line. History: 200,000 calls that went through the queue long ago (closed queue
entries, call events, some tickets), then 30 callers waiting now. Measures p50/p95 of
``waiting_callers`` (the queue snapshot's read) and, as the baseline measured in the same run, of
a one-row primary-key SELECT in its own transaction: the floor any read pays. The target is that
a read every second or two is cheap: a few milliseconds, flat as history grows.

    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/hotline_bench python bench/live_queue.py
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ticket_open import URL, prepare
from hotline.calls.desk import waiting_callers
from hotline.calls.desk_models import QueueEntry
from hotline.calls.models import Call, CallEvent
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

HISTORY = int(os.environ.get("BENCH_HISTORY", "200000"))
WAITING = 30
ROUNDS = 300
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def load(db: Database) -> None:
    batch = 10_000
    with db.engine.begin() as conn:
        for start in range(0, HISTORY + WAITING, batch):
            sids = range(start, min(start + batch, HISTORY + WAITING))
            conn.execute(insert(Call), [_call(n) for n in sids])
            conn.execute(insert(QueueEntry), [_entry(n) for n in sids])
        call_ids = dict(conn.execute(select(Call.call_sid, Call.id)).all())
        for start in range(0, HISTORY + WAITING, batch):
            sids = range(start, min(start + batch, HISTORY + WAITING))
            conn.execute(insert(CallEvent), [e for n in sids for e in _events(n, call_ids)])
        conn.execute(text("ANALYZE"))


def _sid(n: int) -> str:
    return f"CA{n:032x}"


def _waiting(n: int) -> bool:
    return n >= HISTORY


def _call(n: int) -> dict[str, object]:
    started = NOW - timedelta(minutes=5) if _waiting(n) else NOW - timedelta(days=1 + n % 300)
    return {"call_sid": _sid(n), "from_number": f"+668{n % 10_000_000:08d}", "from_raw": "",
            "to_number": "1567", "direction": "inbound", "twilio_status": "in-progress",
            "started_at": started, "last_sequence": -1, "is_training": False,
            "ended_at": None if _waiting(n) else started + timedelta(minutes=4)}  # fmt: skip


def _entry(n: int) -> dict[str, object]:
    queued = NOW - timedelta(seconds=n - HISTORY + 5) if _waiting(n) else NOW - timedelta(days=1)
    left = None if _waiting(n) else queued + timedelta(minutes=1)
    return {"call_sid": _sid(n), "queue": "agents", "caller": f"+668{n % 10_000_000:08d}",
            "queued_at": queued, "ivr_choices": {"category": "land"}, "left_at": left,
            "left_reason": None if left is None else "bridged", "simulated": False}  # fmt: skip


def _events(n: int, call_ids: dict[str, int]) -> list[dict[str, object]]:
    call_id, at = call_ids[_sid(n)], NOW - timedelta(minutes=1)
    kinds = [("ivr_input", "main_menu", "0"), ("enqueue", "to_agent", None)]
    if not _waiting(n):
        kinds.append(("connect", "to_agent", None))
    return [{"call_id": call_id, "kind": k, "node": node, "value": v, "at": at,
             "dedupe_key": f"{_sid(n)}:{i}"} for i, (k, node, v) in enumerate(kinds)]  # fmt: skip


def timed(func: Callable[[], object]) -> tuple[float, float]:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def main() -> None:
    prepare()
    db = Database.connect(URL, pool=True)
    load(db)
    assert len(waiting_callers(db, NOW)) == WAITING

    def baseline() -> None:
        with UnitOfWork(db) as uow:
            uow.session.get(Call, 1)

    base_p50, base_p95 = timed(baseline)
    p50, p95 = timed(lambda: waiting_callers(db, NOW))
    db.dispose()
    print(
        json.dumps(
            {
                "bench": "live_queue",
                "database": "postgresql",
                "history_calls": HISTORY,
                "waiting_callers": WAITING,
                "rounds": ROUNDS,
                "waiting_callers_p50_ms": round(p50, 2),
                "waiting_callers_p95_ms": round(p95, 2),
                "baseline_pk_select_p50_ms": round(base_p50, 2),
                "baseline_pk_select_p95_ms": round(base_p95, 2),
                "ratio_p50_to_baseline": round(p50 / base_p50, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
