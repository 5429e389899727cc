"""Database.execute_alone: one write in a transaction of its own. On PostgreSQL it runs on the
pooled driver connection in autocommit; the rows must come out as SQLAlchemy would write them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import bindparam, create_engine, literal_column, select, text, update
from sqlalchemy.exc import IntegrityError

from hotline.calls.desk import QueueEntry, _queued_upsert
from hotline.calls.models import Call
from ticketing.db.engine import Database
from ticketing.db.postgres import _numbered, driver_statement
from ticketing.db.statements import insert_for_dialect, insert_ignoring_conflicts
from ticketing.db.uow import UnitOfWork

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
NAIVE = NOW.replace(tzinfo=None)


def queue_row(call_sid: str, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "call_sid": call_sid, "queue": "agents", "caller": "+66812345678", "queued_at": NOW,
        "ivr_choices": {"เมนู": "1"}, "left_at": None, "left_reason": None, "agent_id": None,
        "answered_at": None, "agent_call_sid": None, "bridge_ended_at": None, "simulated": False,
    }  # fmt: skip
    return {**row, **changes}


def stored(database: Database) -> list[QueueEntry]:
    with UnitOfWork(database) as uow:
        return list(uow.session.scalars(select(QueueEntry).order_by(QueueEntry.call_sid)))


def test_rows_are_written_with_their_types_and_committed(database: Database) -> None:
    upsert = _queued_upsert(database.dialect)
    database.execute_alone(upsert, [queue_row("CA1")])
    database.execute_alone(upsert, [queue_row("CA2"), queue_row("CA3", simulated=True)])
    entries = stored(database)
    assert [e.call_sid for e in entries] == ["CA1", "CA2", "CA3"]
    assert entries[0].queued_at == NOW and entries[0].ivr_choices == {"เมนู": "1"}
    assert entries[2].simulated is True and entries[0].left_at is None


def test_an_upsert_keeps_its_conflict_rule(database: Database) -> None:
    upsert = _queued_upsert(database.dialect)
    database.execute_alone(upsert, [queue_row("CA1")])
    later = datetime(2026, 11, 24, 3, 5, tzinfo=UTC)
    database.execute_alone(upsert, [queue_row("CA1", queued_at=later)])  # still waiting
    assert stored(database)[0].queued_at == NOW


def test_a_naive_datetime_is_refused_and_nothing_is_written(database: Database) -> None:
    upsert = _queued_upsert(database.dialect)
    with pytest.raises(Exception, match="naive datetime refused"):
        database.execute_alone(upsert, [queue_row("CA1", queued_at=NAIVE)])
    assert stored(database) == []
    database.execute_alone(upsert, [queue_row("CA2")])  # refused before any write
    assert [e.call_sid for e in stored(database)] == ["CA2"]


def test_a_failed_statement_leaves_the_connection_usable(database: Database) -> None:
    with UnitOfWork(database) as uow:
        insert = insert_ignoring_conflicts(uow.session, Call.__table__)
    row = {"call_sid": "CA1", "from_raw": "", "to_number": "", "direction": "inbound",
           "twilio_status": "in-progress", "is_training": False, "started_at": NOW,
           "last_sequence": -1, "from_number": None}  # fmt: skip
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error class
        database.execute_alone(insert, [{**row, "direction": None}])  # NOT NULL
    database.execute_alone(insert, [row])
    with UnitOfWork(database) as uow:
        assert uow.session.scalars(select(Call.call_sid)).all() == ["CA1"]


def test_the_driver_path_refuses_rows_that_leave_a_value_to_sqlalchemy(
    pg_database: Database,
) -> None:
    upsert = _queued_upsert("postgresql")
    with pytest.raises(ValueError, match="rows must give"):
        driver_statement(upsert, pg_database.engine.dialect, ("call_sid", "queue"))


@pytest.fixture
def small_pool(pg_database: Database) -> Iterator[Database]:
    """The test database behind a pool of two connections, to see each pooled connection."""
    engine = create_engine(pg_database.engine.url, pool_size=2, max_overflow=0)
    yield Database(url=pg_database.url, engine=engine)
    engine.dispose()


def pooled_autocommit(database: Database) -> list[bool]:
    held = [database.engine.raw_connection() for _ in range(2)]
    try:
        return [bool(c.driver_connection.autocommit) for c in held]  # type: ignore[union-attr]
    finally:
        for connection in held:
            connection.close()


def test_connections_go_back_to_the_pool_in_transaction_mode(small_pool: Database) -> None:
    upsert = _queued_upsert("postgresql")
    small_pool.execute_alone(upsert, [queue_row("CA-pool-1")])
    with pytest.raises(Exception):  # noqa: B017 - the driver's own error class
        small_pool.execute_alone(upsert, [queue_row("CA-pool-2", queue=None)])  # NOT NULL
    assert pooled_autocommit(small_pool) == [False, False]
    with UnitOfWork(small_pool) as uow:  # so a unit of work's rollback still rolls back
        uow.session.execute(_queued_upsert("postgresql"), [queue_row("CA-pool-3")])
    assert [e.call_sid for e in stored(small_pool) if e.call_sid.startswith("CA-pool")] == [
        "CA-pool-1"
    ]


def test_after_the_database_drops_its_connections_one_write_fails_and_the_next_succeed(
    small_pool: Database, pg_database: Database
) -> None:
    pooled_autocommit(small_pool)  # both pooled connections are open
    with pg_database.engine.connect() as conn:  # as a database restart would
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = current_database() AND pid <> pg_backend_pid()")
        )  # fmt: skip
    pg_database.engine.dispose()  # the other tests' pool lost its connections too
    upsert = _queued_upsert("postgresql")
    with pytest.raises(psycopg.OperationalError):
        small_pool.execute_alone(upsert, [queue_row("CA-lost-1")])
    small_pool.execute_alone(upsert, [queue_row("CA-lost-2")])  # a fresh connection
    small_pool.execute_alone(upsert, [queue_row("CA-lost-3")])  # the other stale one is gone too
    assert [e.call_sid for e in stored(small_pool) if e.call_sid.startswith("CA-lost")] == [
        "CA-lost-2", "CA-lost-3"
    ]  # fmt: skip


def test_fetch_alone_gives_the_first_row_and_commits(database: Database) -> None:
    statement = (
        insert_for_dialect(database.dialect)(Call.__table__)
        .values({name: bindparam(name, type_=Call.__table__.c[name].type) for name in CALL_ROW})
        .returning(Call.__table__.c.id, Call.__table__.c.call_sid)
    )
    row = database.fetch_alone(statement, {**CALL_ROW, "call_sid": "CA1"})
    assert row is not None and row[1] == "CA1"
    with UnitOfWork(database) as uow:
        assert uow.session.scalars(select(Call.id)).all() == [row[0]]


def test_fetch_alone_gives_none_for_no_row_and_sqlalchemy_errors(database: Database) -> None:
    table = Call.__table__
    insert = insert_for_dialect(database.dialect)(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in CALL_ROW}
    )
    database.fetch_alone(insert, {**CALL_ROW, "call_sid": "CA1"})
    with pytest.raises(IntegrityError):  # the call SID is unique: SQLAlchemy's error, as usual
        database.fetch_alone(insert, {**CALL_ROW, "call_sid": "CA1"})
    status = (
        update(table)
        .where(table.c.call_sid == bindparam("sid"))
        .values(twilio_status=bindparam("status"))
    )
    assert database.fetch_alone(status, {"sid": "CA1", "status": "completed"}) is None
    with UnitOfWork(database) as uow:
        assert uow.session.execute(select(Call.call_sid, Call.twilio_status)).all() == [
            ("CA1", "completed")
        ]


CALL_ROW = {"call_sid": "", "from_number": None, "from_raw": "", "to_number": "1567",
            "direction": "inbound", "twilio_status": "in-progress", "is_training": False,
            "started_at": NOW, "last_sequence": -1}  # fmt: skip


def test_the_driver_sql_numbers_each_name_once_and_keeps_literal_percents() -> None:
    sql = "SELECT %(a)s, %(b)s, %(a)s WHERE x LIKE 'p%%' AND y = %(c-d)s AND z = '%%(e)s'"
    assert _numbered(sql) == (
        "SELECT $1, $2, $1 WHERE x LIKE 'p%' AND y = $3 AND z = '%(e)s'",
        ("a", "b", "c-d"),
    )
    assert _numbered("%%%(x)s") == ("%$1", ("x",))


def test_a_statement_with_more_values_than_psycopg_caches_runs_on_the_driver(
    database: Database,
) -> None:
    """A phone filing binds over 50 values; its SQL is numbered once, not per execution."""
    table = Call.__table__
    names = [f"v{i}" for i in range(60)]
    values = select(*(bindparam(name, type_=table.c.last_sequence.type) for name in names))
    row = database.fetch_alone(values, {name: i for i, name in enumerate(names)})
    assert row == tuple(range(60))
    if database.dialect == "postgresql":
        sql = driver_statement(values, database.engine.dialect, tuple(names)).sql
        assert "$60" in sql and "%(" not in sql


def test_literal_percents_and_a_repeated_value_survive_the_driver_path(
    database: Database,
) -> None:
    table = Call.__table__
    database.execute_alone(
        insert_for_dialect(database.dialect)(table).values(
            {name: bindparam(name, type_=table.c[name].type) for name in CALL_ROW}
        ),
        [{**CALL_ROW, "call_sid": "CA%1"}],
    )
    sid = bindparam("sid", type_=table.c.call_sid.type)
    query = select(table.c.call_sid).where(  # a literal LIKE pattern and `sid` used twice
        table.c.call_sid.like(literal_column("'CA%'")), table.c.call_sid == sid,
        sid != literal_column("''"),
    )  # fmt: skip
    assert database.fetch_alone(query, {"sid": "CA%1"}) == ("CA%1",)
    assert database.fetch_alone(query, {"sid": "CA%2"}) is None
