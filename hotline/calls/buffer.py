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
from datetime import UTC, datetime
from typing import Protocol

from redis import Redis, RedisError
from sqlalchemy import select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from config.redis_keys import CALL_LOG_BUFFER
from hotline.calls.log import LogEntry, apply_entries
from hotline.calls.models import RefusedLogEntry
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
    """Applies entries in their own transaction (embedded mode, and the fallback).

    A batch the database refuses for what it holds is applied again an entry at a time, so one
    bad entry never takes the rest of the batch (other calls' entries) with it; an entry refused
    alone is kept in ``call_log_refused``. A database that is down is no reason: that error
    goes up and the caller keeps the entries.
    """

    def __init__(self, database: Database) -> None:
        self._database = database

    def write(self, entries: Sequence[LogEntry]) -> None:
        if not entries:
            return
        try:
            self._apply(entries)
        except REFUSED_DATA as error:
            _reraise_outage(error)
            for entry in entries:
                self.write_alone(entry)

    def write_alone(self, entry: LogEntry) -> bool:
        """Apply one entry; False (and the entry kept in ``call_log_refused``) if refused."""
        try:
            self._apply([entry])
        except REFUSED_DATA as error:
            _reraise_outage(error)
            self.refuse(_as_text(entry), error)
            return False
        return True

    def refuse(self, item: str, error: BaseException) -> None:
        reason = _first_line(error)
        log.error("call log entry refused (%s); kept in call_log_refused", reason)
        with UnitOfWork(self._database) as uow:
            uow.session.add(RefusedLogEntry(reason=reason, item=_ascii(item)))
            uow.commit()

    def _apply(self, entries: Sequence[LogEntry]) -> None:
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
            try:
                self._redis.rpush(CALL_LOG_BUFFER, encode_entries(entries))
            except UnicodeEncodeError:  # a lone surrogate is no UTF-8: the same JSON, escaped
                escaped = json.dumps([e.as_dict() for e in entries], separators=(",", ":"))
                self._redis.rpush(CALL_LOG_BUFFER, escaped)
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

    A batch the database refuses for what it holds (a value it cannot store, a malformed item)
    is applied again item by item, and a refused item entry by entry: only the entries refused
    alone are set aside, into ``call_log_refused`` in the database (an item that is not JSON,
    whole). A database that is down is no reason: that error goes up and every item stays.
    """
    raw: list[bytes] = redis.lrange(CALL_LOG_BUFFER, 0, items - 1)  # type: ignore[assignment]
    if not raw:
        return 0
    writer = DirectWriter(database)
    try:
        entries = [entry for item in raw for entry in decode_item(item)]
        writer._apply(entries)
    except REFUSED_DATA as error:
        _reraise_outage(error)
        entries = []
        for item in raw:
            entries.extend(_flush_item(writer, item))
    redis.ltrim(CALL_LOG_BUFFER, len(raw), -1)
    return len(entries)


def _flush_item(writer: DirectWriter, item: bytes) -> list[LogEntry]:
    """One buffered item on its own: its entries that the database took."""
    try:
        entries = decode_item(item)
    except REFUSED_DATA as error:
        writer.refuse(item.decode("utf-8", "backslashreplace"), error)
        return []
    try:
        writer._apply(entries)
    except REFUSED_DATA as error:
        _reraise_outage(error)
        return [entry for entry in entries if writer.write_alone(entry)]
    return entries


def replay_refused(database: Database, limit: int = 1000) -> tuple[int, int]:
    """Apply the refused entries not yet replayed again (after a fix); (replayed, refused
    again). Each is marked replayed; one refused again is kept as a new row."""
    writer = DirectWriter(database)
    with UnitOfWork(database) as uow:
        rows = uow.session.execute(
            select(RefusedLogEntry.id, RefusedLogEntry.item)
            .where(RefusedLogEntry.replayed_at.is_(None))
            .order_by(RefusedLogEntry.id)
            .limit(limit)
        ).all()
    replayed = again = 0
    for row_id, item in rows:
        try:
            entries = decode_item(item)
        except REFUSED_DATA:
            entries = []
            again += 1
        for entry in entries:
            if writer.write_alone(entry):
                replayed += 1
            else:
                again += 1
        with UnitOfWork(database) as uow:
            uow.session.execute(
                update(RefusedLogEntry)
                .where(RefusedLogEntry.id == row_id)
                .values(replayed_at=datetime.now(UTC))
            )
            uow.commit()
    return replayed, again


# What an item can hold that the database refuses: a value too long or out of range, a
# malformed entry, a naive time (StatementError around the column type's ValueError).
REFUSED_DATA = (StatementError, ValueError, TypeError, KeyError)


def _reraise_outage(error: BaseException) -> None:
    """The database failed, not the data: the error goes up and everything stays buffered."""
    if isinstance(error, DBAPIError) and not isinstance(error, DataError | IntegrityError):
        raise error


def _as_text(entry: LogEntry) -> str:
    """The entry as ASCII JSON, which replay_refused reads back."""
    try:
        return json.dumps(entry.as_dict(), separators=(",", ":"))
    except (TypeError, ValueError):
        return repr(entry)


def _ascii(text: str) -> str:
    """Text any column stores: non-ASCII, NUL and lone surrogates as escapes."""
    return text.encode("ascii", "backslashreplace").decode("ascii").replace("\x00", "\\x00")


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:300] if str(error) else type(error).__name__
