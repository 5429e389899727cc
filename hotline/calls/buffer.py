"""The call log's transport: webhooks hand over entries, which reach the database in batches.

A webhook must answer in milliseconds, so in production it only appends its entries to a Redis
list; ``hotline worker`` drains the list into PostgreSQL every second (:func:`flush_buffer`).
Without Redis — or when Redis fails — entries are written straight to the database. Every entry
carries a dedupe key, so a replayed webhook or a batch applied twice writes nothing twice.
Tickets and recordings never travel this way: they are committed before the webhook answers.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections.abc import Sequence
from typing import Protocol

from redis import Redis, RedisError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from config.redis_keys import CALL_LOG_BUFFER, CALL_LOG_REFUSED
from hotline.calls.log import LogEntry, apply_entries
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

log = logging.getLogger(__name__)


def encode_entries(entries: Sequence[LogEntry]) -> str:
    """One Redis list item for a batch of entries: a JSON array, encoded by one C call."""
    return json.dumps([e.as_dict() for e in entries], ensure_ascii=False, separators=(",", ":"))


def decode_item(item: str | bytes) -> list[LogEntry]:
    """The entries of one buffered item: an array (a batch) or an object (one entry, as written
    before batches were pushed as one item; a rolling deploy may leave some in the buffer)."""
    values = json.loads(item)
    if isinstance(values, dict):
        return [LogEntry.from_dict(values)]
    return [LogEntry.from_dict(v) for v in values]


class CallLogWriter(Protocol):
    def write(self, entries: Sequence[LogEntry]) -> None: ...


class DirectWriter:
    """Applies entries in their own transaction (embedded mode, and the fallback)."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def write(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        with UnitOfWork(self._database) as uow:
            apply_entries(uow.session, entries)
            uow.commit()


class RedisWriter:
    """Appends entries to a Redis list as one item, in one round trip; writes directly if Redis
    fails."""

    def __init__(self, redis: Redis, fallback: DirectWriter) -> None:
        self._redis = redis
        self._fallback = fallback

    def write(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        try:
            self._redis.rpush(CALL_LOG_BUFFER, encode_entries(entries))
        except RedisError:
            log.warning("Redis unavailable: writing %d call log entries directly", len(entries))
            self._fallback.write(entries)


class BatchingWriter:
    """Gathers a web worker's entries in memory and hands them on every few milliseconds.

    Takes the Redis round trip off each webhook. A worker killed outright loses at most one
    interval of step events — never tickets or recordings, which are committed in the request.
    """

    def __init__(self, inner: CallLogWriter, interval_s: float, max_batch: int = 500) -> None:
        self._inner = inner
        self._interval = interval_s
        self._max_batch = max_batch
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._pending: list[LogEntry] = []
        self._pid: int | None = None

    def write(self, entries: Sequence[LogEntry]) -> None:
        with self._lock:
            self._start_in_this_process()
            self._pending.extend(entries)
            if len(self._pending) >= self._max_batch:
                self._wake.set()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
        if batch:
            try:
                self._inner.write(batch)
            except Exception:
                log.exception("lost %d call log entries", len(batch))

    def _start_in_this_process(self) -> None:
        # gunicorn forks workers: each process needs its own flushing thread.
        if self._pid == os.getpid():
            return
        self._pid = os.getpid()
        threading.Thread(target=self._run, name="call-log-batcher", daemon=True).start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            self.flush()


def flush_buffer(database: Database, redis: Redis, items: int = 50) -> int:
    """Move up to ``items`` buffered items (each a web process's batch of entries) into the
    database in one transaction; returns how many entries.

    The items leave Redis only after the database committed them; if this process dies in
    between, the next flush applies them again and the dedupe keys make that harmless.

    An item the database refuses for what it holds (a value too long for its column, say)
    would otherwise stay at the head of the list and stop every flush behind it. A batch that
    fails so is retried one item at a time, and an item that fails alone moves to
    ``CALL_LOG_REFUSED``, kept whole for an operator (``docs/operations.md``). A database that
    is down is no reason: that error goes up and every item stays.
    """
    while True:
        raw: list[bytes] = redis.lrange(CALL_LOG_BUFFER, 0, items - 1)  # type: ignore[assignment]
        if not raw:
            return 0
        try:
            entries = [entry for item in raw for entry in decode_item(item)]
            DirectWriter(database).write(entries)
        except REFUSED_DATA as error:
            if isinstance(error, DBAPIError) and not isinstance(error, DataError | IntegrityError):
                raise  # the database failed, not the data: everything stays buffered
            if len(raw) == 1:
                log.error(
                    "call log item refused (%s); moved to %s", _first_line(error), CALL_LOG_REFUSED
                )
                _move_head_to_dead(redis, raw[0])
            items = 1  # find the refused item: one at a time until the next success
            continue
        redis.ltrim(CALL_LOG_BUFFER, len(raw), -1)
        return len(entries)


# What an item can hold that the database refuses: a value too long or out of range, a
# malformed entry, a naive time (StatementError around the column type's ValueError).
REFUSED_DATA = (StatementError, ValueError, TypeError, KeyError)


def _move_head_to_dead(redis: Redis, item: bytes) -> None:
    with redis.pipeline() as pipe:  # MULTI/EXEC: the item is in one list or the other
        pipe.rpush(CALL_LOG_REFUSED, item)
        pipe.ltrim(CALL_LOG_BUFFER, 1, -1)
        pipe.execute()


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:300] if str(error) else type(error).__name__
