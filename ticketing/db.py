"""Database plumbing: the declarative base, UTC timestamps, engines and the unit of work.

SQLite (the embedded default) and PostgreSQL (production) are both first-class. Every timestamp
is stored and returned as an aware UTC datetime; naive datetimes are refused at write time so a
local-time bug cannot reach the database silently.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Enum,
    MetaData,
    String,
    Text,
    bindparam,
    cast,
    column,
    create_engine,
    event,
    func,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite and PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: use an aware UTC datetime")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store naive UTC text, tag it again on the way out.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


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
        and result wrappers, isolation-level switching, compiled-cache lookup), which cost
        twice the driver's own. Values still pass through their column types' bind rules (a
        naive datetime is refused). Errors are the driver's (psycopg's), not SQLAlchemy's.
        SQLite keeps its explicit (BEGIN IMMEDIATE) transaction.
        """
        if not rows:
            return
        if self.dialect == "postgresql":
            compiled = driver_statement(statement, self.engine.dialect, tuple(rows[0]))
            self._run_autocommitted(compiled.sql, [compiled.params(row) for row in rows])
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
            return self._run_autocommitted(compiled.sql, [params], fetch=True)
        except dbapi_error as error:
            raise DBAPIError.instance(
                compiled.sql, params, error, dbapi_error,
                hide_parameters=self.engine.hide_parameters, dialect=dialect,
            ) from error  # fmt: skip

    def _run_autocommitted(
        self, sql: str, params: list[list[Any]], *, fetch: bool = False
    ) -> tuple[Any, ...] | None:
        from psycopg import RawCursor  # PostgreSQL only: the embedded default never loads it

        pooled = self.engine.raw_connection()
        driver: Any = pooled.driver_connection  # psycopg.Connection
        in_transaction_mode = False  # back to what the pool expects; otherwise never reused
        try:
            driver.autocommit = True  # the pool hands out idle connections: no open transaction
            with RawCursor(driver) as cursor:  # the SQL's placeholders are $1, $2, … already
                if len(params) == 1:
                    cursor.execute(sql, params[0])
                    if fetch and cursor.description is not None:  # None: no rows to fetch
                        row: tuple[Any, ...] | None = cursor.fetchone()
                        return row
                else:
                    cursor.executemany(sql, params)
                return None
        except Exception as error:
            if _lost_connection(self.engine.dialect, error, driver):
                # As SQLAlchemy does on a lost connection: the database went away, so every
                # pooled connection is stale, not just this one; the next checkouts reconnect.
                pooled.invalidate(error)
                self.engine.dispose()
            raise
        finally:
            if pooled.is_valid:
                with contextlib.suppress(Exception):
                    driver.autocommit = False
                    in_transaction_mode = True
                if not in_transaction_mode:
                    pooled.invalidate()
            pooled.close()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()


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


@dataclass(frozen=True, slots=True)
class DriverStatement:
    """A Core statement compiled for one dialect: its SQL with PostgreSQL's own numbered
    placeholders ($1, $2, …), and each value's name and bind rule, in that order."""

    sql: str
    processors: tuple[tuple[str, Callable[[Any], Any] | None], ...]

    def params(self, row: dict[str, Any]) -> list[Any]:
        return [
            row[name] if process is None else process(row[name])
            for name, process in self.processors
        ]


@cache
def driver_statement(statement: Any, dialect: Dialect, keys: tuple[str, ...]) -> DriverStatement:
    """Compile ``statement`` for rows with these keys. Refused when the SQL would need a value
    the rows lack (a column default SQLAlchemy fills in at execution): give every column."""
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    missing = sorted(set(compiled.binds) - set(keys))
    if missing:
        raise ValueError(f"rows must give {', '.join(missing)} to run on the driver")
    if compiled.escaped_bind_names or compiled.post_compile_params:
        raise ValueError("escaped or expanding parameters: run this statement through SQLAlchemy")
    sql, names = _numbered(compiled.string)
    if set(names) != set(compiled.binds):  # a name the placeholder pattern could not read
        raise ValueError("unreadable parameter names: run this statement through SQLAlchemy")
    processors = tuple(
        (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
        for name in names
    )
    return DriverStatement(sql, processors)


_PLACEHOLDER = re.compile(r"%\(([^)]+)\)s|%%")  # psycopg's own reading of a name


def _numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """SQLAlchemy's ``%(name)s`` placeholders as $1, $2, … (a name used twice keeps its
    number) and ``%%`` as ``%``: the SQL psycopg would otherwise derive on every execution,
    by regular expression, for any statement over 4 KB or 50 values (a phone filing)."""
    order: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        return f"${order.setdefault(name, len(order) + 1)}"

    return _PLACEHOLDER.sub(number, sql), tuple(order)


def _lost_connection(dialect: Dialect, error: Exception, driver: Any) -> bool:
    """The dialect's own test (a closed or broken connection), as SQLAlchemy applies it."""
    dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
    return isinstance(error, dbapi_error) and dialect.is_disconnect(error, driver, None)  # type: ignore[arg-type]


def insert_ignoring_conflicts(session: Session, target: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for the session's database (SQLite or PostgreSQL)."""
    return _ignoring_conflicts(session.get_bind().dialect.name, target)


def upsert_statement(session: Session, target: Any, key: str, update: list[str]) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE of ``update``, to execute with rows of values."""
    return _upserting(session.get_bind().dialect.name, target, key, tuple(update))


# Built once per dialect and table: building them (``excluded`` proxies every column) costs
# more than running them. Statements are immutable, so sharing them is safe.


@cache
def _ignoring_conflicts(dialect: str, target: Any) -> Any:
    return insert_for_dialect(dialect)(target).on_conflict_do_nothing()


@cache
def _upserting(dialect: str, target: Any, key: str, update: tuple[str, ...]) -> Any:
    statement = insert_for_dialect(dialect)(target)
    changes = {column: statement.excluded[column] for column in update}
    return statement.on_conflict_do_update(index_elements=[key], set_=changes)


def insert_for_dialect(dialect: str) -> Any:
    """The INSERT construct with ON CONFLICT support for "postgresql" or "sqlite"."""
    from sqlalchemy.dialects import postgresql, sqlite

    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def insert_rows_ignoring_conflicts(
    session: Session, table: Any, rows: Sequence[dict[str, Any]]
) -> None:
    """Insert many rows (all with the same keys), skipping any that conflict.

    On PostgreSQL this is one statement over one parameter: the rows travel as a JSON array of
    arrays, ``INSERT … SELECT … FROM jsonb_array_elements(…) ON CONFLICT DO NOTHING``. An
    executemany runs the statement once per row (the server's per-statement work was most of
    the cost of draining the call log), and arrays of strings are quoted element by element in
    Python by the driver; one ``json.dumps`` is C. SQLite keeps the executemany.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        session.execute(insert_ignoring_conflicts(session, table), rows)
        return
    columns = tuple(rows[0])
    statement, encoders = _json_rows_insert(table, columns)
    session.connection().execute(statement, {"rows": _json_payload(rows, columns, encoders)})


def upsert_rows(
    session: Session, table: Any, rows: Sequence[dict[str, Any]], key: str, update: list[str]
) -> None:
    """Insert many rows (all with the same keys, each ``key`` value once); a row whose ``key``
    exists updates that row's ``update`` columns instead. On PostgreSQL one statement over one
    JSON parameter, as :func:`insert_rows_ignoring_conflicts` inserts; an executemany on
    SQLite."""
    if not rows:
        return
    if len({row[key] for row in rows}) != len(rows):  # PostgreSQL refuses it; SQLite would not
        raise ValueError(f"each {key} may come once in an upsert")
    if session.get_bind().dialect.name != "postgresql":
        session.execute(upsert_statement(session, table, key, update), rows)
        return
    columns = tuple(rows[0])
    statement, encoders = _json_rows_upsert(table, columns, key, tuple(update))
    session.connection().execute(statement, {"rows": _json_payload(rows, columns, encoders)})


def update_rows(session: Session, table: Any, rows: Sequence[dict[str, Any]], key: str) -> None:
    """Update many rows by ``key``, each to its own values (all rows with the same keys).

    On PostgreSQL this is one statement over one JSON parameter (``UPDATE … FROM
    jsonb_array_elements(…)``), as :func:`insert_rows_ignoring_conflicts` inserts; an
    executemany on SQLite.
    """
    if not rows:
        return
    columns = tuple(rows[0])
    if session.get_bind().dialect.name != "postgresql":
        statement = _update_by_key(table, columns, key)
        session.connection().execute(statement, [{f"v_{k}": v for k, v in r.items()} for r in rows])
        return
    statement, encoders = _json_rows_update(table, columns, key)
    session.connection().execute(statement, {"rows": _json_payload(rows, columns, encoders)})


def _json_payload(
    rows: Sequence[dict[str, Any]],
    columns: tuple[str, ...],
    encoders: tuple[Callable[[Any], Any] | None, ...],
) -> str:
    """The rows as one JSON array of arrays: values as they are, but for the columns whose
    type has its own rule (datetimes), applied column by column: the call log's flusher sends
    tens of thousands of values a second through here."""
    payload = [[row[name] for name in columns] for row in rows]
    for i, encode in enumerate(encoders):
        if encode is not None:
            for values in payload:
                values[i] = encode(values[i])
    return _json_text(payload)


@cache
def _update_by_key(table: Any, columns: tuple[str, ...], key: str) -> Any:
    changes: dict[str, Any] = {name: bindparam(f"v_{name}") for name in columns if name != key}
    return table.update().where(table.c[key] == bindparam(f"v_{key}")).values(changes)


@cache
def _json_rows_update(
    table: Any, columns: tuple[str, ...], key: str
) -> tuple[Any, tuple[Any, ...]]:
    selected, encoders, element = _json_row_values(table, columns)
    rows = select(*(value.label(name) for name, value in zip(columns, selected, strict=True)))
    given = rows.select_from(element).subquery("given")
    changes = {name: given.c[name] for name in columns if name != key}
    return table.update().where(table.c[key] == given.c[key]).values(changes), encoders


@cache
def _json_rows_insert(table: Any, columns: tuple[str, ...]) -> tuple[Any, tuple[Any, ...]]:
    """The statement for these columns, and how each value becomes JSON."""
    from sqlalchemy.dialects.postgresql import insert

    selected, encoders, element = _json_row_values(table, columns)
    statement = insert(table).from_select(list(columns), select(*selected).select_from(element))
    return statement.on_conflict_do_nothing(), encoders


@cache
def _json_rows_upsert(
    table: Any, columns: tuple[str, ...], key: str, update: tuple[str, ...]
) -> tuple[Any, tuple[Any, ...]]:
    from sqlalchemy.dialects.postgresql import insert

    selected, encoders, element = _json_row_values(table, columns)
    statement = insert(table).from_select(list(columns), select(*selected).select_from(element))
    changes = {column: statement.excluded[column] for column in update}
    return statement.on_conflict_do_update(index_elements=[key], set_=changes), encoders


def _json_row_values(
    table: Any, columns: tuple[str, ...]
) -> tuple[list[Any], tuple[Callable[[Any], Any] | None, ...], Any]:
    """Each column's value read from the ``rows`` parameter (a JSON array of arrays), how each
    value becomes JSON (None: as it is), and the rows' table-valued source. Strings stay text
    until assigned, so a value too long for its column is refused, not cut; a JSON column's
    value is nested as JSON (None is JSON null, as the column type binds it). The parameter is
    read as jsonb: parsed once, where ``->>`` on json parses each row's text again for every
    column (a sixth of PostgreSQL's work per call-log entry)."""
    from sqlalchemy.dialects.postgresql import JSONB

    rows = cast(bindparam("rows", type_=Text), JSONB)
    element = func.jsonb_array_elements(rows).table_valued(column("value", JSONB)).alias("e")
    selected: list[Any] = []
    encoders: list[Callable[[Any], Any] | None] = []
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        value = element.c.value[i].astext
        if isinstance(column_type, JSON):
            selected.append(cast(element.c.value[i], column_type))
            encoders.append(None)
        elif isinstance(column_type, String) and not isinstance(column_type, Enum):
            selected.append(value)
            encoders.append(None)
        else:
            selected.append(cast(value, column_type))
            is_datetime = isinstance(column_type, UTCDateTime)
            encoders.append(_bound_iso(column_type) if is_datetime else None)
    return selected, tuple(encoders), element


def _bound_iso(column_type: UTCDateTime) -> Callable[[datetime | None], str | None]:
    """The column type's own bind rule (UTC, naive datetimes refused), then ISO text."""
    from sqlalchemy.dialects import postgresql

    dialect: Dialect = postgresql.dialect()  # type: ignore[no-untyped-call]

    def encode(value: datetime | None) -> str | None:
        bound = column_type.process_bind_param(value, dialect)
        return None if bound is None else bound.isoformat()

    return encode


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))  # None is JSON null
