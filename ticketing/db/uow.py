"""The unit of work: one transaction, and the jobs it asks for, dispatched only after commit."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from sqlalchemy.orm import Session

from ticketing.db.engine import Database

log = logging.getLogger(__name__)


class JobDispatcher(Protocol):
    """Where a committed unit of work sends its jobs (RQ in production, inline when embedded)."""

    def dispatch(self, job: JobRequest) -> None: ...


@dataclass(frozen=True, slots=True)
class JobRequest:
    """A job named by dotted path, with primitive arguments and a deterministic id."""

    func: str
    args: tuple[str | int, ...] = ()
    job_id: str | None = None
    queue: str = "default"


class UnitOfWork:
    """One transaction: rolls back unless committed, and dispatches jobs only after commit.

    Usage::

        with UnitOfWork(db, jobs) as uow:
            uow.session.add(...)
            uow.after_commit(JobRequest("recordings.jobs.fetch", (sid,)))
            uow.commit()
    """

    def __init__(self, database: Database, jobs: JobDispatcher | None = None) -> None:
        self._database = database
        self._jobs = jobs
        self._pending: list[JobRequest] = []
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in a with block")
        return self._session

    @property
    def dialect(self) -> str:
        return self._database.dialect

    @property
    def memo(self) -> dict[str, object]:
        return self._database.memo

    @property
    def database(self) -> Database:
        return self._database

    def __enter__(self) -> UnitOfWork:
        self._session = self._database.session_factory()
        self._pending = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() rolls back whatever was not committed and, unlike rollback(), keeps loaded
        # objects readable after the block (they become detached, not expired).
        self.session.close()
        self._session = None

    def after_commit(self, job: JobRequest) -> None:
        self._pending.append(job)

    def commit(self) -> None:
        self.session.commit()
        pending, self._pending = self._pending, []
        for job in pending:
            self._dispatch(job)

    def _dispatch(self, job: JobRequest) -> None:
        if self._jobs is None:
            log.warning("no job dispatcher: %s left to the sweeper", job.func)
            return
        try:
            self._jobs.dispatch(job)
        except Exception:
            # The rows are committed and say the work is unfinished; the sweeper finds them.
            log.exception("could not enqueue %s; the sweeper will retry it", job.func)
