"""``hotline worker``: RQ workers and the call-log flusher, with the app built once per process.

Queues are named for their work (recordings, notifications, default) so each can run on its own
hosts. Every worker also drains the buffered call log into the database once a second; a Redis
lock makes sure only one process at a time moves a given batch.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence

from flask import Flask
from redis import Redis, RedisError
from redis.exceptions import LockError
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer

from config.redis_keys import CALL_LOG_BUFFER, housekeeping_lock
from hotline.background.jobs import HotlineJob
from hotline.background.notifications import send_pending
from hotline.background.recordings import purge, sweep
from hotline.calls.buffer import flush_buffer
from hotline.metrics.service import refresh_rollups
from hotline.runtime import Runtime, runtime
from ticketing.db.engine import Database
from ticketing.deadlines import DeadlineReport, run_deadline_checks

log = logging.getLogger(__name__)
FLUSH_LOCK = CALL_LOG_BUFFER + ":lock"
LOCK_TTL_S = 60
DEADLINES_EVERY_S = 60  # reminders and escalations are about days: a minute late is on time


def flush_once(database: Database, redis: Redis) -> int:
    """Flush one batch if no other process is flushing; returns the entries moved.

    The lock has an owner token (redis-py's Lock), so a slow flusher whose lock expired can
    never release another's; a batch takes well under a second against a 60-second lock.
    """
    lock = redis.lock(FLUSH_LOCK, timeout=LOCK_TTL_S, blocking=False)
    if not lock.acquire():
        return 0
    try:
        return flush_buffer(database, redis)
    finally:
        with contextlib.suppress(LockError):
            lock.release()


def flush_all(database: Database, redis: Redis) -> int:
    moved = total = flush_once(database, redis)
    while moved:
        moved = flush_once(database, redis)
        total += moved
    return total


class CallLogFlusher(threading.Thread):
    """Background thread: drain the call log buffer every ``interval`` seconds until stopped."""

    def __init__(self, database: Database, redis: Redis, interval: float = 1.0) -> None:
        super().__init__(name="call-log-flusher", daemon=True)
        self._database = database
        self._redis = redis
        self._interval = interval
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            self._flush()
        self._flush()

    def _flush(self) -> None:
        try:
            flush_all(self._database, self._redis)
        except (RedisError, OSError):
            log.warning("call log flush failed; retrying in %.0f s", self._interval, exc_info=True)
        except Exception:
            log.exception("call log flush failed; the entries stay buffered")

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def check_deadlines(rt: Runtime) -> DeadlineReport:
    """Remind before deadlines and escalate after them (ticketing.deadlines), on the app clock."""
    report = run_deadline_checks(rt.uow(), now=rt.clock(), tz=rt.settings.tz,
                                 remind_days=rt.settings.deadline_reminder_days)  # fmt: skip
    if report.reminded or report.escalated:
        log.info("deadlines: %d reminded, %d escalated", report.reminded, report.escalated)
    return report


METRICS_EVERY_S = 60


class Housekeeper(threading.Thread):
    """Every 10 s: send waiting SMS, re-enqueue stuck recordings; every minute: deadline
    reminders and escalations, and metric rollups; daily: purge expired audio.

    Runs in every worker; a Redis lock per task makes one process do each round.
    """

    def __init__(self, app: Flask, interval_s: float = 10.0) -> None:
        super().__init__(name="housekeeper", daemon=True)
        self._app = app
        self._interval = interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self._interval):
            with self._app.app_context():
                self.round()

    def round(self) -> None:
        rt = runtime(self._app)
        assert rt.redis is not None  # noqa: S101 - workers refuse to start without Redis
        try:
            if rt.redis.set(housekeeping_lock("sms"), "1", nx=True, ex=int(self._interval)):
                send_pending(rt)
            if rt.redis.set(housekeeping_lock("sweep"), "1", nx=True, ex=int(self._interval)):
                sweep(rt)
            if rt.redis.set(housekeeping_lock("deadlines"), "1", nx=True, ex=DEADLINES_EVERY_S):
                check_deadlines(rt)
            if rt.redis.set(housekeeping_lock("metrics"), "1", nx=True, ex=METRICS_EVERY_S):
                refresh_rollups(rt, wait=False)  # another worker may be mid-rebuild
            days = rt.settings.recording_retention_days
            if days and rt.redis.set(housekeeping_lock("purge"), "1", nx=True, ex=24 * 3600):
                report = purge(rt, days)
                log.info("retention: purged %d recordings older than %d days", report.purged, days)
        except Exception:
            log.exception("housekeeping round failed; next round in %.0f s", self._interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def run_worker(
    app: Flask, queue_names: Sequence[str], *, burst: bool = False, fork_per_job: bool = False
) -> None:
    """Work the queues (with the RQ scheduler), flush the call log and keep house until stopped."""
    rt = runtime(app)
    if rt.redis is None:
        raise RuntimeError("REDIS_URL is not set: jobs run inline in the web process")
    flusher = CallLogFlusher(rt.db, rt.redis)
    flusher.start()
    housekeeper = Housekeeper(app)
    if not burst:
        housekeeper.start()
    queues = [Queue(name, connection=rt.redis, serializer=JSONSerializer, job_class=HotlineJob)
              for name in queue_names]  # fmt: skip
    # Our jobs are short, I/O-bound and our own: running them in this process (no fork per job)
    # spares a fork and an app build per job (docs/operations.md has the throughput).
    worker_class = Worker if fork_per_job else SimpleWorker
    worker = worker_class(
        queues, connection=rt.redis, serializer=JSONSerializer, job_class=HotlineJob
    )
    try:
        with app.app_context():
            worker.work(with_scheduler=True, burst=burst)
    finally:
        flusher.stop()
        if housekeeper.is_alive():
            housekeeper.stop()
