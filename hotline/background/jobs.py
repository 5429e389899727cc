"""Job dispatch: RQ on Redis in production, inline after commit in the embedded default.

Jobs are named by dotted path and take primitive arguments only (ids, SIDs), serialised as
JSON: RQ's default pickle is unsafe, and an id lets the job reload the current row.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job, JobStatus
from rq.serializers import JSONSerializer

from hotline.channels.line_models import FETCH_CONTENT_JOB, HANDLE_EVENT_JOB, PUSH_JOB
from recordings.jobs import FETCH_JOB
from ticketing.db.uow import JobRequest

log = logging.getLogger(__name__)

QUEUE_NAMES = ("recordings", "notifications", "default")
RETRY_INTERVALS = [10, 30, 60, 300]
JOB_TIMEOUT_S = 180


# The jobs the domain asks for by name (JobRequest.func), and the function each runs: the
# domain packages sit below this one and cannot import it.
JOBS = {
    FETCH_JOB: "hotline.background.recordings.fetch_recording",
    HANDLE_EVENT_JOB: "hotline.channels.line_jobs.handle_event",
    FETCH_CONTENT_JOB: "hotline.channels.line_jobs.fetch_content",
    PUSH_JOB: "hotline.channels.line_progress.push_progress",
}
# A job keeps the dotted path it was enqueued with in Redis. When a release moves a job's
# function, jobs queued (or waiting for a retry) before the deploy still name the old path:
# each moved path is kept here, so a worker of the new release runs them.
MOVED_JOBS = {
    "hotline.recording_jobs.fetch_recording": "hotline.background.recordings.fetch_recording",
}


def job_path(func: str) -> str:
    """The dotted path of the function a job runs, from its name, its old path or its path."""
    return JOBS.get(func) or MOVED_JOBS.get(func) or func


def resolve(name: str) -> Callable[..., Any]:
    module_name, _, attr = job_path(name).rpartition(".")
    func: Callable[..., Any] = getattr(importlib.import_module(module_name), attr)
    return func


class InlineJobs:
    """Runs jobs in this process, one at a time, right after the commit that asked for them.

    The embedded mode has no Redis and no worker. Jobs run on a background thread so a webhook
    never waits for a download; ``join`` waits for the queue to empty (tests, CLI).
    """

    def __init__(self, runner: Callable[[Callable[..., Any], tuple[Any, ...]], None]) -> None:
        self._runner = runner
        self._queue: queue.Queue[JobRequest] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def dispatch(self, job: JobRequest) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="inline-jobs", daemon=True)
                self._thread.start()
        self._queue.put(job)

    def requeue(self, job: JobRequest, stale_after_s: float) -> bool:
        self.dispatch(job)
        return True

    def join(self) -> None:
        self._queue.join()

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            try:
                self._runner(resolve(job.func), job.args)
            except Exception:
                # The row still says the work is unfinished; the sweeper tries it again.
                log.exception("inline job %s failed", job.func)
            finally:
                self._queue.task_done()


class HotlineJob(Job):
    """RQ's job, finding a moved job function by its new path (``MOVED_JOBS``)."""

    @property
    def func(self) -> Any:
        if self.instance is None and self.func_name in MOVED_JOBS:
            return resolve(self.func_name)
        return super().func


class RQJobs:
    """Enqueues on Redis with a deterministic job id, JSON arguments and retries."""

    def __init__(self, redis: Redis) -> None:
        self._queues = {
            name: Queue(name, connection=redis, serializer=JSONSerializer) for name in QUEUE_NAMES
        }

    def queue(self, name: str) -> Queue:
        return self._queues[name]

    def dispatch(self, job: JobRequest) -> None:
        """Enqueue once: a job id already in Redis (queued, running or retrying) is left alone."""
        try:
            self._queues[job.queue].enqueue(
                job_path(job.func),
                *job.args,
                job_id=job.job_id,
                unique=job.job_id is not None,
                retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                job_timeout=JOB_TIMEOUT_S,
            )
        except DuplicateJobError:
            log.debug("job %s is already queued", job.job_id)

    def requeue(self, job: JobRequest, stale_after_s: float) -> bool:
        """Enqueue again work whose row says unfinished (the sweeper); True if enqueued.

        A job still waiting, scheduled for a retry, or running for less than ``stale_after_s``
        is left alone; a finished, failed or abandoned one (its worker was killed) is replaced.
        """
        queue = self._queues[job.queue]
        if job.job_id is not None:
            existing = queue.fetch_job(job.job_id)
            if existing is not None and not _replaceable(existing, stale_after_s):
                return False
            if existing is not None:
                existing.delete()
        self.dispatch(job)
        return True


def _replaceable(job: Job, stale_after_s: float) -> bool:
    status = job.get_status(refresh=True)
    if status in (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.DEFERRED):
        return False
    if status == JobStatus.STARTED and job.started_at is not None:
        age = (datetime.now(UTC) - job.started_at.replace(tzinfo=UTC)).total_seconds()
        return age > stale_after_s
    return True
