"""Portable write statements: INSERT … ON CONFLICT (ignore or update) and bulk updates, on SQLite
and PostgreSQL alike.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import cache
from typing import Any

from sqlalchemy import (
    bindparam,
)
from sqlalchemy.orm import Session

from ticketing.db.postgres import json_payload, json_rows_insert, json_rows_update, json_rows_upsert

log = logging.getLogger(__name__)


def insert_ignoring_conflicts(session: Session, target: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for the session's database (SQLite or PostgreSQL)."""
    return _ignoring_conflicts(session.get_bind().dialect.name, target)


def upsert_statement(session: Session, target: Any, key: str, update: list[str]) -> Any:
    """INSERT … ON CONFLICT (key) DO UPDATE of ``update``, to execute with rows of values."""
    return _upserting(session.get_bind().dialect.name, target, key, tuple(update))


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
    statement, encoders = json_rows_insert(table, columns)
    session.connection().execute(statement, {"rows": json_payload(rows, columns, encoders)})


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
    statement, encoders = json_rows_upsert(table, columns, key, tuple(update))
    session.connection().execute(statement, {"rows": json_payload(rows, columns, encoders)})


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
    statement, encoders = json_rows_update(table, columns, key)
    session.connection().execute(statement, {"rows": json_payload(rows, columns, encoders)})


@cache
def _update_by_key(table: Any, columns: tuple[str, ...], key: str) -> Any:
    changes: dict[str, Any] = {name: bindparam(f"v_{name}") for name in columns if name != key}
    return table.update().where(table.c[key] == bindparam(f"v_{key}")).values(changes)
