"""``hotline worker``: RQ workers and the call-log flusher, with the app built once per process.

Queues are named for their work (recordings, notifications, default) so each can run on its own
hosts. Every worker also drains the buffered call log into the database once a second; a Redis
lock makes sure only one process at a time moves a given batch.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Sequence

from flask import Flask
from redis import Redis, RedisError
from redis.exceptions import LockError
from rq import Queue, SimpleWorker, Worker
from rq.serializers import JSONSerializer

from config.redis_keys import CALL_LOG_BUFFER, HOUSEKEEPING_FAILURES, housekeeping_lock
from hotline.background.jobs import HotlineJob
from hotline.background.notifications import record_kept_replies, send_pending
from hotline.background.reconcile import reconcile_recent
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
RECONCILE_EVERY_S = 3600  # Twilio's call records fill the call log's gaps (after a Redis loss)
# A scheduled task failing this many rounds in a row is an ERROR and shows on /readyz.
FAILING_AFTER_ROUNDS = 3


class Housekeeper(threading.Thread):
    """Every 10 s: send waiting SMS, re-enqueue stuck recordings; every minute: deadline
    reminders and escalations, and metric rollups; daily: purge expired audio.

    Runs in every worker; a Redis lock per task makes one process do each round. Each task runs
    on its own: one that fails (a bad row it trips on every round, say) never stops the others.
    How many rounds in a row each has failed is kept in Redis (``HOUSEKEEPING_FAILURES``),
    fleet-wide, for /readyz.
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
        every = int(self._interval)
        for name, period_s, task in self.tasks(rt):
            try:
                due = rt.redis.set(housekeeping_lock(name), "1", nx=True, ex=period_s or every)
            except RedisError:
                log.warning("housekeeping: Redis unavailable; next round in %.0f s", every)
                return
            if due:
                self._run_task(rt, name, task)

    def tasks(self, rt: Runtime) -> list[tuple[str, int, Callable[[], object]]]:
        """(name, period in seconds, 0 for every round, the task) of every scheduled task."""
        tasks: list[tuple[str, int, Callable[[], object]]] = [
            ("sms", 0, lambda: send_pending(rt)),
            ("sms-replies", 0, lambda: record_kept_replies(rt)),
            ("sweep", 0, lambda: sweep(rt)),
            ("deadlines", DEADLINES_EVERY_S, lambda: check_deadlines(rt)),
            # another worker may be mid-rebuild: do not wait for it
            ("metrics", METRICS_EVERY_S, lambda: refresh_rollups(rt, wait=False)),
        ]
        if not rt.settings.telephony_simulated:  # the simulator keeps no call records
            tasks.append(("reconcile", RECONCILE_EVERY_S, lambda: reconcile_recent(rt)))
        days = rt.settings.recording_retention_days
        if days:
            tasks.append(("purge", 24 * 3600, lambda: _purge(rt, days)))
        return tasks

    def _run_task(self, rt: Runtime, name: str, task: Callable[[], object]) -> None:
        assert rt.redis is not None  # noqa: S101 - see round
        try:
            task()
        except Exception:
            failures = _count_failure(rt.redis, name)
            if failures >= FAILING_AFTER_ROUNDS:
                log.error("housekeeping task %s has failed %d rounds in a row", name, failures,
                          exc_info=True)  # fmt: skip
            else:
                log.warning("housekeeping task %s failed; the others go on", name, exc_info=True)
            return
        with contextlib.suppress(RedisError):
            rt.redis.hdel(HOUSEKEEPING_FAILURES, name)

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=30)


def _purge(rt: Runtime, days: int) -> None:
    report = purge(rt, days)
    log.info("retention: purged %d recordings older than %d days", report.purged, days)


def _count_failure(redis: Redis, name: str) -> int:
    try:
        return int(redis.hincrby(HOUSEKEEPING_FAILURES, name, 1))
    except RedisError:
        return 1


def failing_tasks(redis: Redis) -> dict[str, int]:
    """The scheduled tasks that failed FAILING_AFTER_ROUNDS rounds in a row or more."""
    counts: dict[bytes, bytes] = redis.hgetall(HOUSEKEEPING_FAILURES)  # type: ignore[assignment]
    found = {k.decode(): int(v) for k, v in counts.items()}
    return {name: n for name, n in sorted(found.items()) if n >= FAILING_AFTER_ROUNDS}


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
