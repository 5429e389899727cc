"""Engines and the per-process Database: SQLite (the embedded default) and PostgreSQL (production)
are both first-class.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Engine,
    create_engine,
    event,
    text,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from ticketing.db.postgres import driver_statement, run_autocommitted

log = logging.getLogger(__name__)


def make_engine(url: str, *, pool: bool = True) -> Engine:
    """An engine tuned for the dialect: WAL, foreign keys and a busy timeout on SQLite."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # No pre-ping: it costs a round trip per transaction. After a database restart SQLAlchemy
    # invalidates the whole pool on the first disconnect error, so one request fails (webhooks
    # still answer with their fallback TwiML) and the next ones reconnect.
    kwargs: dict[str, Any] = {"pool_recycle": 1800}
    if pool:
        kwargs.update(pool_size=10, max_overflow=20)
    else:
        kwargs["poolclass"] = NullPool
    return create_engine(_psycopg_url(url), **kwargs)


def _psycopg_url(url: str) -> str:
    # "postgresql://" defaults to psycopg2 in SQLAlchemy; we ship psycopg 3.
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_on_begin).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock up front, so two writers queue on the busy timeout
    # instead of failing with "database is locked" when a read transaction tries to upgrade.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


@dataclass
class Database:
    """An engine and its session factory. One per process; sessions are per request or job."""

    url: str
    engine: Engine
    session_factory: sessionmaker[Session] = field(init=False)
    # Per-process memo for rarely changing rows (see ticketing.reference).
    memo: dict[str, object] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.session_factory = sessionmaker(self.engine, expire_on_commit=False)

    @classmethod
    def connect(cls, url: str, *, pool: bool = True) -> Database:
        return cls(url=url, engine=make_engine(url, pool=pool))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def execute_alone(self, statement: Any, rows: Sequence[dict[str, Any]]) -> None:
        """Run one write statement as a transaction of its own.

        On PostgreSQL the statement, compiled once, runs on the pooled driver connection in
        autocommit: one round trip, and none of SQLAlchemy's per-execution work (connection
        and result wrappers, isolation-level switching, compiled-cache lookup), which cost more
        than the driver's own (docs/operations.md). Values still pass through their column
        types' bind rules (a naive datetime is refused). Errors are the driver's (psycopg's),
        not SQLAlchemy's.
        SQLite keeps its explicit (BEGIN IMMEDIATE) transaction.
        """
        if not rows:
            return
        if self.dialect == "postgresql":
            compiled = driver_statement(statement, self.engine.dialect, tuple(rows[0]))
            run_autocommitted(self.engine, compiled.sql, [compiled.params(row) for row in rows])
            return
        with self.engine.begin() as conn:
            conn.execute(statement, rows)

    def fetch_alone(self, statement: Any, values: dict[str, Any]) -> tuple[Any, ...] | None:
        """Run one statement with ``values`` as a transaction of its own, as ``execute_alone``
        does, and return its first row (None if it gives none). On PostgreSQL the row comes as
        the driver gives it, without SQLAlchemy's result processing: ask only for integers and
        text. Database errors are SQLAlchemy's, as from a session (an IntegrityError for a
        duplicate key); a value its column type refuses (a naive datetime) is a ValueError."""
        if self.dialect != "postgresql":
            with self.engine.begin() as conn:
                result = conn.execute(statement, values)
                row = result.first() if result.returns_rows else None
                return None if row is None else tuple(row)
        compiled = driver_statement(statement, self.engine.dialect, tuple(values))
        params = compiled.params(values)
        dialect = self.engine.dialect
        dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        try:
            return run_autocommitted(self.engine, compiled.sql, [params], fetch=True)
        except dbapi_error as error:
            raise DBAPIError.instance(
                compiled.sql, params, error, dbapi_error,
                hide_parameters=self.engine.hide_parameters, dialect=dialect,
            ) from error  # fmt: skip

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
