"""The PostgreSQL fast path: the only code that knows psycopg.

Driver statements (compiled once, numbered placeholders, run on a RawCursor in autocommit) and
bulk writes whose rows travel as one JSON parameter. Nothing here is used on SQLite.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    JSON,
    Engine,
    Enum,
    String,
    Text,
    bindparam,
    cast,
    column,
    func,
    select,
)
from sqlalchemy.engine import Dialect

from ticketing.db.base import UTCDateTime

log = logging.getLogger(__name__)


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


def lost_connection(dialect: Dialect, error: Exception, driver: Any) -> bool:
    """The dialect's own test (a closed or broken connection), as SQLAlchemy applies it."""
    dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
    return isinstance(error, dbapi_error) and dialect.is_disconnect(error, driver, None)  # type: ignore[arg-type]


def json_payload(
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
def json_rows_update(table: Any, columns: tuple[str, ...], key: str) -> tuple[Any, tuple[Any, ...]]:
    selected, encoders, element = _json_row_values(table, columns)
    rows = select(*(value.label(name) for name, value in zip(columns, selected, strict=True)))
    given = rows.select_from(element).subquery("given")
    changes = {name: given.c[name] for name in columns if name != key}
    return table.update().where(table.c[key] == given.c[key]).values(changes), encoders


@cache
def json_rows_insert(table: Any, columns: tuple[str, ...]) -> tuple[Any, tuple[Any, ...]]:
    """The statement for these columns, and how each value becomes JSON."""
    from sqlalchemy.dialects.postgresql import insert

    selected, encoders, element = _json_row_values(table, columns)
    statement = insert(table).from_select(list(columns), select(*selected).select_from(element))
    return statement.on_conflict_do_nothing(), encoders


@cache
def json_rows_upsert(
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
    column."""
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


def run_autocommitted(
    engine: Engine, sql: str, params: list[list[Any]], *, fetch: bool = False
) -> tuple[Any, ...] | None:
    """Run ``sql`` (numbered placeholders) on the pooled driver connection in autocommit: one
    round trip, none of SQLAlchemy's per-execution work. The connection goes back to the pool in
    transaction mode, or is dropped."""
    from psycopg import RawCursor  # PostgreSQL only: the embedded default never loads it

    pooled = engine.raw_connection()
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
        if lost_connection(engine.dialect, error, driver):
            # As SQLAlchemy does on a lost connection: the database went away, so every
            # pooled connection is stale, not just this one; the next checkouts reconnect.
            pooled.invalidate(error)
            engine.dispose()
        raise
    finally:
        if pooled.is_valid:
            with contextlib.suppress(Exception):
                driver.autocommit = False
                in_transaction_mode = True
            if not in_transaction_mode:
                pooled.invalidate()
        pooled.close()
