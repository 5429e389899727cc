"""The composition root's product: settings, database, Redis and jobs, built once per process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask, current_app
from redis import Redis

from config import Settings
from hotline.background.jobs import InlineJobs, RQJobs
from ticketing.db.base import utcnow
from ticketing.db.engine import Database
from ticketing.db.uow import JobDispatcher, UnitOfWork

EXTENSION_KEY = "hotline"


@dataclass
class Runtime:
    settings: Settings
    db: Database
    redis: Redis | None
    jobs: JobDispatcher
    # The one clock of the web tier; tests replace it to call at night or on a holiday.
    clock: Callable[[], datetime] = field(default=utcnow)

    def uow(self) -> UnitOfWork:
        return UnitOfWork(self.db, self.jobs)


def build_runtime(settings: Settings, app: Flask) -> Runtime:
    if settings.effective_database_url.startswith("sqlite"):
        settings.instance_dir.mkdir(parents=True, exist_ok=True)
    db = Database.connect(settings.effective_database_url)
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    jobs: JobDispatcher = RQJobs(redis) if redis is not None else InlineJobs(_in_app_context(app))
    return Runtime(settings=settings, db=db, redis=redis, jobs=jobs)


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
