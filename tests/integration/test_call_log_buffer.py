"""The buffered call log: webhooks append to real Redis, a real `hotline worker` drains it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from config.redis_keys import CALL_LOG_BUFFER, CALL_LOG_REFUSED
from hotline.background.worker import flush_all
from hotline.calls.buffer import DirectWriter, RedisWriter, decode_item, encode_entries
from hotline.calls.log import LogEntry
from hotline.calls.models import Call, CallEvent, RefusedLogEntry
from hotline.demo.phone import PhoneSimulator
from tests.conftest import truncate_all
from tests.twilio_client import FlaskTransport
from tests.voice import AUTH_TOKEN, BASE_URL, TWILIO_STANDIN, call_row, count, event_kinds
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
COMPLAINT = ["1", "1", "50200", "1", "#", "record:9", "2", "4"]


@pytest.fixture
def buffered_app(make_app: Callable[..., Flask], redis_client: redis.Redis) -> Flask:
    # Batching off: each webhook's entries reach Redis before it answers, so counts are exact.
    return make_app(redis_url=REDIS_URL, call_log_batch_ms=0)


def phone_for(app: Flask) -> PhoneSimulator:
    transport = FlaskTransport(app.test_client())
    return PhoneSimulator(
        transport, base_url=BASE_URL, auth_token=AUTH_TOKEN, media_base_url=TWILIO_STANDIN
    )


def test_webhooks_buffer_in_redis_and_a_flush_writes_it_all_once(
    buffered_app: Flask, database: Database, redis_client: redis.Redis
) -> None:
    transcript = phone_for(buffered_app).call(COMPLAINT)
    buffered = redis_client.llen(CALL_LOG_BUFFER)
    assert buffered >= 10  # one item per webhook (batching is off here)
    # The ticket is committed at once; only the step events wait in the buffer.
    from ticketing.models import Ticket

    assert count(database, Ticket) == 1
    events_before = count(database, CallEvent)
    raw = redis_client.lrange(CALL_LOG_BUFFER, 0, -1)
    entries = sum(len(decode_item(item)) for item in raw)
    assert entries >= buffered

    assert flush_all(database, redis_client) == entries
    assert redis_client.llen(CALL_LOG_BUFFER) == 0
    call = call_row(database, transcript.call_sid)
    assert call.outcome == "self_service" and call.ended_at is not None
    events = count(database, CallEvent)
    assert events > events_before

    # The same batch applied twice (a flusher died before trimming) changes nothing.
    redis_client.rpush(CALL_LOG_BUFFER, *raw)
    assert flush_all(database, redis_client) == entries
    assert count(database, CallEvent) == events
    assert call_row(database, transcript.call_sid).outcome == "self_service"


def test_items_buffered_one_entry_each_by_an_older_release_still_flush(
    database: Database, redis_client: redis.Redis
) -> None:
    at = datetime.now(UTC)
    started = LogEntry("CAold", "call_started", at, dedupe_key="CAold:started", data={})
    entered = LogEntry("CAold", "ivr_enter", at, "main_menu", dedupe_key="CAold:0:0")
    redis_client.rpush(CALL_LOG_BUFFER, started.to_json(), entered.to_json())
    RedisWriter(redis_client, DirectWriter(database)).write(
        [LogEntry("CAold", "ivr_input", at, "main_menu", "3", dedupe_key="CAold:1:0")]
    )
    assert redis_client.llen(CALL_LOG_BUFFER) == 3
    assert flush_all(database, redis_client) == 3
    assert call_row(database, "CAold").last_node == "main_menu"
    assert [kind for kind, _, _ in event_kinds(database, "CAold")] == ["ivr_enter", "ivr_input"]


def test_an_item_the_database_refuses_is_set_aside_and_the_rest_flow(
    database: Database, redis_client: redis.Redis
) -> None:
    """A refused item at the head of the buffer would stop every flush behind it."""
    at = datetime.now(UTC)

    def entered(sid: str, step: int) -> LogEntry:
        return LogEntry(sid, "ivr_enter", at, "main_menu", dedupe_key=f"{sid}:{step}:0")

    naive = entered("CAbad", 0).to_json().replace("+00:00", "")  # a time without its zone
    good = [encode_entries([entered("CAgood", 0)]), encode_entries([entered("CAgood", 1)])]
    redis_client.delete(CALL_LOG_REFUSED)
    redis_client.rpush(CALL_LOG_BUFFER, good[0], naive, b"{not json", good[1])

    assert flush_all(database, redis_client) == 2
    assert redis_client.llen(CALL_LOG_BUFFER) == 0
    # Kept in the database (a Redis flush would erase them), not in Redis.
    assert redis_client.llen(CALL_LOG_REFUSED) == 0
    with UnitOfWork(database) as uow:
        items = uow.session.scalars(select(RefusedLogEntry.item).order_by(RefusedLogEntry.id))
        kept = list(items)
    assert len(kept) == 2 and "CAbad" in kept[0] and kept[1] == "{not json"  # the item whole
    assert [kind for kind, _, _ in event_kinds(database, "CAgood")] == ["ivr_enter", "ivr_enter"]
    assert count(database, Call) == 1


def test_a_value_too_long_for_its_column_is_cut_not_refused_on_postgresql(
    pg_database: Database, redis_client: redis.Redis
) -> None:
    """PostgreSQL would refuse it: the flusher cuts it to its column (an older release's entry
    already in Redis included), and the entry flows."""
    database = pg_database
    truncate_all(database)
    at = datetime.now(UTC)
    long = encode_entries([LogEntry("CAlong", "ivr_enter", at, "x" * 81, dedupe_key="CAlong:0")])
    fine = encode_entries([LogEntry("CAfine", "ivr_enter", at, "main_menu", dedupe_key="CAf:0")])
    redis_client.delete(CALL_LOG_REFUSED)
    redis_client.rpush(CALL_LOG_BUFFER, long, fine)
    assert flush_all(database, redis_client) == 2
    assert redis_client.llen(CALL_LOG_REFUSED) == 0 and count(database, RefusedLogEntry) == 0
    assert call_row(database, "CAlong").last_node == "x" * 80
    assert call_row(database, "CAfine").last_node == "main_menu"
    truncate_all(database)


def test_a_database_outage_sets_nothing_aside(redis_client: redis.Redis) -> None:
    down = Database.connect("postgresql://postgres@127.0.0.1:1/none")
    item = encode_entries([LogEntry("CAx", "ivr_enter", datetime.now(UTC), dedupe_key="CAx:0")])
    redis_client.delete(CALL_LOG_REFUSED)
    redis_client.rpush(CALL_LOG_BUFFER, item)
    with pytest.raises(OperationalError):
        flush_all(down, redis_client)
    down.dispose()
    assert redis_client.lrange(CALL_LOG_BUFFER, 0, -1) == [item.encode()]
    assert redis_client.llen(CALL_LOG_REFUSED) == 0


def test_losing_redis_falls_back_to_direct_writes(database: Database) -> None:
    dead = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    writer = RedisWriter(dead, DirectWriter(database))
    at = datetime.now(UTC)
    started = LogEntry("CAdead", "call_started", at, dedupe_key="CAdead:started", data={})
    entered = LogEntry("CAdead", "ivr_enter", at, "main_menu", dedupe_key="CAdead:0:0")
    writer.write([started, entered])
    assert call_row(database, "CAdead").last_node == "main_menu"
    assert count(database, Call) == 1


def test_a_real_worker_process_drains_the_buffer(
    buffered_app: Flask, database: Database, redis_client: redis.Redis, tmp_path: object
) -> None:
    transcript = phone_for(buffered_app).call(["0"])
    assert redis_client.llen(CALL_LOG_BUFFER) > 0
    env = {**os.environ, "DATABASE_URL": database.url, "REDIS_URL": REDIS_URL,
           "INSTANCE_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"}  # fmt: skip
    hotline = os.path.join(os.path.dirname(sys.executable), "hotline")
    result = subprocess.run([hotline, "worker", "--burst"], env=env, capture_output=True,
                            text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert redis_client.llen(CALL_LOG_BUFFER) == 0
    assert call_row(database, transcript.call_sid).outcome == "answered"


def test_worker_refuses_to_start_without_redis(tmp_path: object) -> None:
    hotline = os.path.join(os.path.dirname(sys.executable), "hotline")
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    result = subprocess.run([hotline, "worker", "--burst"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 1 and "REDIS_URL" in result.stderr


class _Collecting:
    def __init__(self) -> None:
        self.batches: list[list[LogEntry]] = []

    def write(self, entries: list[LogEntry]) -> None:  # type: ignore[override]
        self.batches.append(list(entries))


def test_the_batching_writer_hands_entries_on_in_batches() -> None:
    import time

    from hotline.calls.buffer import BatchingWriter

    inner = _Collecting()
    writer = BatchingWriter(inner, interval_s=0.05)
    at = datetime.now(UTC)
    for n in range(5):
        writer.write([LogEntry("CAbatch", "ivr_enter", at, f"node{n}")])
    assert inner.batches == []  # nothing leaves in the request itself
    deadline = time.monotonic() + 5
    while not inner.batches and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e.node for e in inner.batches[0]] == [f"node{n}" for n in range(5)]
    writer.write([LogEntry("CAbatch", "ivr_enter", at, "last")])
    writer.flush()
    assert inner.batches[-1][-1].node == "last"
