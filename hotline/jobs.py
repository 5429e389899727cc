"""Job dispatch: RQ on Redis in production, inline after commit in the embedded default.

Jobs are named by dotted path and take primitive arguments only (ids, SIDs), serialised as
JSON: RQ's default pickle is unsafe, and an id lets the job reload the current row.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.serializers import JSONSerializer

from ticketing.db import JobRequest

log = logging.getLogger(__name__)

QUEUE_NAMES = ("recordings", "notifications", "default")
RETRY_INTERVALS = [10, 30, 60, 300]


def resolve(func_path: str) -> Callable[..., Any]:
    module_name, _, attr = func_path.rpartition(".")
    func: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    return func


class InlineJobs:
    """Runs each job in-process right after the commit that asked for it (embedded mode)."""

    def __init__(self, runner: Callable[[Callable[..., Any], tuple[Any, ...]], None]) -> None:
        self._runner = runner

    def dispatch(self, job: JobRequest) -> None:
        try:
            self._runner(resolve(job.func), job.args)
        except Exception:
            # Inline jobs must not turn a committed request into an error; the row still says
            # the work is unfinished and the sweeper retries it.
            log.exception("inline job %s failed", job.func)


class RQJobs:
    """Enqueues on Redis with a deterministic job id, JSON arguments and retries."""

    def __init__(self, redis: Redis) -> None:
        self._queues = {
            name: Queue(name, connection=redis, serializer=JSONSerializer) for name in QUEUE_NAMES
        }

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    def dispatch(self, job: JobRequest) -> None:
        self._queues[job.queue].enqueue(
            job.func,
            *job.args,
            job_id=job.job_id,
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        )
