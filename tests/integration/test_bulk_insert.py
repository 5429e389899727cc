"""insert_rows_ignoring_conflicts: one INSERT … SELECT FROM jsonb_array_elements on PostgreSQL,
an executemany on SQLite, and the same rows either way."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, StatementError

from hotline.calls.log import call_row_values
from hotline.calls.models import Call, CallEvent
from ticketing.db.engine import Database
from ticketing.db.statements import insert_rows_ignoring_conflicts, update_rows, upsert_rows
from ticketing.db.uow import UnitOfWork

NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def insert(database: Database, table: object, rows: list[dict[str, object]]) -> None:
    with UnitOfWork(database) as uow:
        insert_rows_ignoring_conflicts(uow.session, table, rows)
        uow.commit()


def test_rows_go_in_once_and_conflicts_are_skipped(database: Database) -> None:
    rows = [call_row_values(f"CA{i}", NOW, {"from_number": "+66812345678"}) for i in range(3)]
    insert(database, Call.__table__, rows)
    insert(database, Call.__table__, [rows[0], call_row_values("CA9", NOW, {})])
    with UnitOfWork(database) as uow:
        calls = uow.session.scalars(select(Call).order_by(Call.call_sid)).all()
    assert [c.call_sid for c in calls] == ["CA0", "CA1", "CA2", "CA9"]
    assert calls[0].started_at == NOW and calls[0].from_number == "+66812345678"
    assert calls[3].from_number is None and calls[3].is_training is False


def test_json_values_round_trip_and_none_is_json_null(database: Database) -> None:
    insert(database, Call.__table__, [call_row_values("CA1", NOW, {})])
    with UnitOfWork(database) as uow:
        call_id = uow.session.scalars(select(Call.id)).one()
    events = [
        {"call_id": call_id, "kind": "ivr_enter", "node": "เมนู", "at": NOW, "dedupe_key": "k1",
         "data": None},
        {"call_id": call_id, "kind": "abandon", "node": None, "at": NOW, "dedupe_key": "k2",
         "data": {"wait_s": 20, "หมายเหตุ": "ค่ะ"}},
    ]  # fmt: skip
    insert(database, CallEvent.__table__, events)
    with UnitOfWork(database) as uow:
        stored = uow.session.scalars(select(CallEvent).order_by(CallEvent.dedupe_key)).all()
        sql_nulls = uow.session.scalar(text("SELECT count(*) FROM call_events WHERE data IS NULL"))
    assert [(e.node, e.data) for e in stored] == [
        ("เมนู", None),
        (None, {"wait_s": 20, "หมายเหตุ": "ค่ะ"}),
    ]
    assert sql_nulls == 0  # as the ORM writes it: JSON null, not SQL NULL


def test_a_value_too_long_for_its_column_is_refused_not_cut(database: Database) -> None:
    # (Caller IDs are text columns now, and call_row_values bounds what it is given.)
    long_caller = {**call_row_values("CA1", NOW, {}), "call_sid": "CA" + "x" * 70}
    if database.dialect == "sqlite":  # SQLite does not enforce VARCHAR lengths at all
        insert(database, Call.__table__, [long_caller])
        return
    with pytest.raises(DBAPIError, match="too long"):
        insert(database, Call.__table__, [long_caller])


def test_a_naive_datetime_is_refused_as_the_column_type_refuses_it(database: Database) -> None:
    naive = call_row_values("CA1", NOW.replace(tzinfo=None), {})
    with pytest.raises((ValueError, StatementError), match="naive datetime refused"):
        insert(database, Call.__table__, [naive])


# update_rows: each row to its own values, by key ------------------------------------------


def update(database: Database, rows: list[dict[str, object]]) -> None:
    with UnitOfWork(database) as uow:
        update_rows(uow.session, Call.__table__, rows, key="id")
        uow.commit()


def three_calls(database: Database) -> list[int]:
    insert(database, Call.__table__, [call_row_values(f"CA{i}", NOW, {}) for i in range(3)])
    with UnitOfWork(database) as uow:
        return list(uow.session.scalars(select(Call.id).order_by(Call.call_sid)))


def test_each_row_gets_its_own_values_and_nothing_else_changes(database: Database) -> None:
    ids = three_calls(database)
    later = datetime(2026, 11, 24, 3, 9, tzinfo=UTC)
    update(database, [
        {"id": ids[0], "last_node": "เมนูหลัก", "ended_at": later, "duration_s": 90},
        {"id": ids[2], "last_node": None, "ended_at": None, "duration_s": 5},
    ])  # fmt: skip
    with UnitOfWork(database) as uow:
        calls = uow.session.scalars(select(Call).order_by(Call.call_sid)).all()
    assert [(c.last_node, c.ended_at, c.duration_s) for c in calls] == [
        ("เมนูหลัก", later, 90),
        (None, None, None),
        (None, None, 5),
    ]
    assert {c.twilio_status for c in calls} == {"in-progress"}  # columns not given are kept


def test_an_update_too_long_or_naive_is_refused_and_changes_nothing(database: Database) -> None:
    ids = three_calls(database)
    with pytest.raises((ValueError, StatementError), match="naive datetime refused"):
        update(database, [{"id": ids[0], "ended_at": NOW.replace(tzinfo=None)}])
    if database.dialect == "postgresql":  # SQLite does not enforce VARCHAR lengths
        with pytest.raises(DBAPIError, match="too long"):
            update(
                database, [{"id": ids[0], "last_node": "ก"}, {"id": ids[1], "last_node": "x" * 81}]
            )
    with UnitOfWork(database) as uow:
        assert set(uow.session.scalars(select(Call.last_node))) == {None}
        assert set(uow.session.scalars(select(Call.ended_at))) == {None}


def test_an_upsert_inserts_new_keys_and_updates_only_the_named_columns(
    database: Database,
) -> None:
    call_id = three_calls(database)[0]
    later = datetime(2026, 11, 24, 3, 9, tzinfo=UTC)

    def end(key: str, kind: str, value: str, at: datetime, seconds: int) -> dict[str, object]:
        return {"call_id": call_id, "kind": kind, "node": f"เมนู{seconds}", "value": value,
                "at": at, "dedupe_key": key, "data": {"duration_s": seconds}}  # fmt: skip

    first = [end("k1", "hangup", "abandoned_ivr", NOW, 9)]
    second = [end("k1", "complete", "answered", later, 12), end("k2", "hangup", "busy", later, 5)]
    for rows in (first, second):
        with UnitOfWork(database) as uow:
            upsert_rows(uow.session, CallEvent.__table__, rows, "dedupe_key",
                        ["kind", "node", "value"])  # fmt: skip
            uow.commit()
    with UnitOfWork(database) as uow:
        events = uow.session.scalars(select(CallEvent).order_by(CallEvent.dedupe_key)).all()
    assert [(e.dedupe_key, e.kind, e.node, e.value, e.at, e.data) for e in events] == [
        ("k1", "complete", "เมนู12", "answered", NOW, {"duration_s": 9}),  # `at`, `data` kept
        ("k2", "hangup", "เมนู5", "busy", later, {"duration_s": 5}),
    ]
    with UnitOfWork(database) as uow, pytest.raises(ValueError, match="may come once"):
        twice = [end("k3", "hangup", "busy", NOW, 1), end("k3", "hangup", "busy", NOW, 2)]
        upsert_rows(uow.session, CallEvent.__table__, twice, "dedupe_key", ["kind"])
