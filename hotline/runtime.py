"""What one process holds, built once: settings, database, Redis, jobs, the IVR, the call log's
writer, the call's ticket filer, the signature check and the per-process caches.

The app factory and ``hotline worker`` build it with :func:`build_runtime`; views, webhooks and
jobs reach it through :func:`runtime`. The one choice between the embedded default and
production (Redis or not; SQLite or PostgreSQL) is made here, once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from flask import Flask, current_app
from redis import Redis

from config import Settings
from hotline.background.jobs import InlineJobs, RQJobs
from hotline.calls.buffer import BatchingWriter, CallLogWriter, DirectWriter, RedisWriter
from hotline.calls.filing import CallFiler, CallTickets, FileStepByStep
from hotline.calls.filing_at_once import FileAtOnce
from hotline.demo.call_store import CallStore
from hotline.throttle import FailureCounter, LookupLimit
from hotline.twilio.ivr import Ivr, build_ivr
from hotline.twilio.security import SignatureCheck
from ticketing.db.base import utcnow
from ticketing.db.engine import Database
from ticketing.db.uow import JobDispatcher, UnitOfWork
from ticketing.training import Scenario, load_scenarios

EXTENSION_KEY = "hotline"
T = TypeVar("T")


class TimedCache:
    """Values kept for a few seconds per key, shared by all of a process's threads: a hundred
    agents' live desks cost the database one read per interval, not a hundred."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._lock = threading.Lock()
        self._taken: dict[str, tuple[float, Any]] = {}

    def get(self, key: str, load: Callable[[], T]) -> T:
        with self._lock:
            taken = self._taken.get(key)
            if taken is not None and time.monotonic() - taken[0] < self._seconds:
                kept: T = taken[1]
                return kept
            value = load()
            self._taken[key] = (time.monotonic(), value)
            return value


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis | None
    jobs: JobDispatcher
    ivr: Ivr
    call_log: CallLogWriter
    call_tickets: CallTickets
    signature: SignatureCheck
    signin_failures: FailureCounter
    track_lookups: LookupLimit  # the public /track page, per address
    # The embedded demo's parts (and staging's): None or empty where the simulator is off.
    simulator_calls: CallStore | None
    training_scenarios: dict[str, Scenario]
    # The one clock of the web tier; tests replace it to call at night or on a holiday.
    clock: Callable[[], datetime] = field(default=utcnow)
    # What many requests read alike, kept a second (the live queue's snapshot).
    snapshots: TimedCache = field(default_factory=lambda: TimedCache(1.0))
    # The URLs the Twilio router answers (set when the app puts it in front of Flask).
    webhook_paths: frozenset[str] = frozenset()

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.jobs)


def build_runtime(settings: Settings, app: Flask) -> Runtime:
    if settings.effective_database_url.startswith("sqlite"):
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    db = Database.connect(settings.effective_database_url)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    jobs: JobDispatcher = RQJobs(redis) if redis is not None else InlineJobs(_in_app_context(app))
    filer = _call_filer(db, jobs, settings)
    return Runtime(settings=settings, db=db, redis=redis, jobs=jobs, ivr=build_ivr(settings),
                   call_log=call_log_writer(db, redis, settings),
                   call_tickets=CallTickets(db, filer),
                   signature=SignatureCheck(settings), signin_failures=FailureCounter(redis),
                   track_lookups=LookupLimit(redis, settings.track_max_lookups),
                   simulator_calls=CallStore(redis) if settings.simulator_enabled else None,
                   training_scenarios=_scenarios(settings))  # fmt: skip


def _scenarios(settings: Settings) -> dict[str, Scenario]:
    """Practice calls exist where the simulator does (never in production)."""
    if not settings.simulator_enabled:
        return {}
    return load_scenarios(settings.training_scenarios_dir)


def _call_filer(db: Database, jobs: JobDispatcher, settings: Settings) -> CallFiler:
    """The IVR files on PostgreSQL in one statement; anywhere else through the ORM."""
    if db.dialect == "postgresql":
        return FileAtOnce(db, jobs, settings.tz)
    return FileStepByStep(db, jobs, settings.tz)


def call_log_writer(db: Database, redis: Redis | None, settings: Settings) -> CallLogWriter:
    """Direct writes when embedded; in production a Redis buffer, fed in small batches."""
    direct = DirectWriter(db)
    if redis is None:
        return direct
    buffered = RedisWriter(redis, direct)
    interval_ms = settings.call_log_batch_ms
    return BatchingWriter(buffered, interval_ms / 1000) if interval_ms else buffered


def _in_app_context(app: Flask) -> Callable[[Callable[..., Any], tuple[Any, ...]], None]:
    def run(func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        with app.app_context():
            func(*args)

    return run


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of the given app, or of the app handling the current request or job."""
    target = app or current_app
    rt: Runtime = target.extensions[EXTENSION_KEY]
    return rt
