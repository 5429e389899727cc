"""Database.execute_alone: one write in a transaction of its own. On PostgreSQL it runs on the
pooled driver connection in autocommit; the rows must come out as SQLAlchemy would write them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hotline.agent_desk import QueueEntry, _queued_upsert
from hotline.calllog import Call
from ticketing.db import Database, UnitOfWork, driver_statement, insert_ignoring_conflicts

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
    database.execute_alone(upsert, [queue_row("CA2")])  # the pooled connection still works
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
