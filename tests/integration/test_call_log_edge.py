"""ISSUE #18, item 1: a value a webhook hands to the call log never poisons anyone's call log.

Webhooks post to an app with the real Redis buffer and batching on (one web process's entries
of several calls in one Redis item, as in production), and the flusher drains it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from config.redis_keys import CALL_LOG_BUFFER
from hotline.background.worker import flush_all
from hotline.calls.buffer import BatchingWriter, DirectWriter, encode_entries, replay_refused
from hotline.calls.log import LogEntry
from hotline.calls.models import Call, RefusedLogEntry
from hotline.runtime import runtime
from tests.voice import BASE_URL, REDIS_URL, call_row, count, event_kinds
from tests.webhooks.payloads import payload, signed_post
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

LONG_CALLER = "sip:" + "a" * 480 + "@trunk.example.net;user=phone"  # 513 characters


def sid(n: int) -> str:
    return "CA" + f"{n:032x}"


@pytest.fixture
def batching_app(make_app: Callable[..., Flask], redis_client: redis.Redis) -> Flask:
    # The longest batch interval: the test hands the batch on itself, all calls in one item.
    return make_app(redis_url=REDIS_URL, call_log_batch_ms=5000)


def hand_on(app: Flask) -> None:
    writer = runtime(app).call_log
    assert isinstance(writer, BatchingWriter)
    writer.flush()


def refused(database: Database) -> list[RefusedLogEntry]:
    with UnitOfWork(database) as uow:
        return list(uow.session.scalars(select(RefusedLogEntry).order_by(RefusedLogEntry.id)))


def test_a_long_caller_id_a_nul_and_an_out_of_range_status_poison_no_call(
    batching_app: Flask, database: Database, redis_client: redis.Redis
) -> None:
    client = batching_app.test_client()
    voice, status = f"{BASE_URL}/twilio/voice", f"{BASE_URL}/twilio/status"
    ordinary = payload("voice/incoming_call", CallSid=sid(1))
    assert signed_post(client, voice, ordinary).status_code == 200
    long = payload("voice/incoming_call", CallSid=sid(2), From=LONG_CALLER, Caller=LONG_CALLER)
    assert signed_post(client, voice, long).status_code == 200
    nul = payload("voice/incoming_call", CallSid=sid(3), To="+6621001567\x00")
    assert signed_post(client, voice, nul).status_code == 200
    ended = payload("voice/status_completed", CallSid=sid(1), CallStatus="completed\x00",
                    SequenceNumber="99999999999", CallDuration="4" * 30)  # fmt: skip
    assert signed_post(client, status, ended).status_code == 200
    hand_on(batching_app)
    assert redis_client.llen(CALL_LOG_BUFFER) == 1  # every call's entries in the one item

    assert flush_all(database, redis_client) > 0
    assert count(database, Call) == 3
    assert call_row(database, sid(2)).from_raw == LONG_CALLER  # kept whole
    assert call_row(database, sid(3)).to_number == "+6621001567"
    first = call_row(database, sid(1))
    assert first.twilio_status == "completed" and first.ended_at is not None
    assert first.duration_s is None  # no real duration: none rather than a refused batch
    assert refused(database) == []


def test_an_entry_refused_alone_takes_no_other_with_it_and_is_kept_in_the_database(
    database: Database, redis_client: redis.Redis
) -> None:
    """The refused entry outlives a Redis flush; the good ones of its item are applied."""
    at = datetime.now(UTC)
    good = LogEntry(sid(7), "ivr_enter", at, "main_menu", dedupe_key=f"{sid(7)}:0:0")
    naive = LogEntry(sid(8), "ivr_enter", at.replace(tzinfo=None), "x", dedupe_key="n:0")
    after = LogEntry(sid(9), "ivr_enter", at, "main_menu", dedupe_key=f"{sid(9)}:0:0")
    redis_client.rpush(CALL_LOG_BUFFER, encode_entries([good, naive, after]))

    assert flush_all(database, redis_client) == 2
    assert redis_client.llen(CALL_LOG_BUFFER) == 0
    redis_client.flushdb()
    assert [kind for kind, _, _ in event_kinds(database, sid(7))] == ["ivr_enter"]
    assert [kind for kind, _, _ in event_kinds(database, sid(9))] == ["ivr_enter"]
    [kept] = refused(database)
    assert sid(8) in kept.item and kept.reason

    # Replayed, it is refused again (the time is still naive), marked, and kept once more.
    assert replay_refused(database) == (0, 1)
    rows = refused(database)
    assert len(rows) == 2 and rows[0].replayed_at is not None and rows[1].replayed_at is None


def test_a_refused_entry_holding_a_nul_and_a_lone_surrogate_is_still_kept(
    database: Database,
) -> None:
    at = datetime.now(UTC).replace(tzinfo=None)
    odd = LogEntry(sid(5), "ivr_enter", at, "a\x00b\ud800", dedupe_key="odd:0")
    assert DirectWriter(database).write_alone(odd) is False
    [kept] = refused(database)
    assert "\x00" not in kept.item and kept.item.isascii()


def test_a_lone_surrogate_in_an_entry_loses_no_batch(
    database: Database, redis_client: redis.Redis
) -> None:
    """A lone surrogate is no UTF-8: Redis could not take the item, and the whole web process's
    batch was lost."""
    from hotline.calls.buffer import RedisWriter

    at = datetime.now(UTC)
    writer = RedisWriter(redis_client, DirectWriter(database))
    started = LogEntry(sid(4), "call_started", at, dedupe_key=f"{sid(4)}:started",
                       data={"from_raw": "+6681\ud800"})  # fmt: skip
    other = LogEntry(sid(6), "ivr_enter", at, "main_menu", dedupe_key=f"{sid(6)}:0:0")
    writer.write([started, other])
    assert flush_all(database, redis_client) == 2
    assert call_row(database, sid(4)).from_raw == "+6681?"
    assert call_row(database, sid(6)).last_node == "main_menu"
