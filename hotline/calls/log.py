"""Writing the call log: webhooks hand over entries, which reach the database in batches.

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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from redis import Redis, RedisError
from sqlalchemy import select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError
from sqlalchemy.orm import Session

from hotline.calls.models import Call, CallEvent, CallEventKind
from ticketing.db.engine import Database
from ticketing.db.statements import insert_rows_ignoring_conflicts, update_rows, upsert_rows
from ticketing.db.uow import UnitOfWork

log = logging.getLogger(__name__)

BUFFER_KEY = "hotline:call-log"
DEAD_KEY = "hotline:call-log:refused"  # items the database refused, kept for an operator
CALL_STARTED = "call_started"
CALL_STATUS = "call_status"
CALL_ONLY = frozenset({CALL_STARTED, CALL_STATUS})
TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})


@dataclass(frozen=True, slots=True)
class LogEntry:
    call_sid: str
    kind: str
    at: datetime
    node: str | None = None
    value: str | None = None
    dedupe_key: str | None = None
    data: dict[str, Any] | None = None

    def to_json(self) -> str:
        return json.dumps(self._values(), ensure_ascii=False, separators=(",", ":"))

    def _values(self) -> dict[str, Any]:
        return {
            "call_sid": self.call_sid,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "node": self.node,
            "value": self.value,
            "dedupe_key": self.dedupe_key,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, text: str | bytes) -> LogEntry:
        return cls._from_values(json.loads(text))

    @classmethod
    def _from_values(cls, values: dict[str, Any]) -> LogEntry:
        values["at"] = datetime.fromisoformat(values["at"])
        return cls(**values)


def encode_entries(entries: Sequence[LogEntry]) -> str:
    """One Redis list item for a batch of entries: a JSON array, encoded by one C call."""
    return json.dumps([e._values() for e in entries], ensure_ascii=False, separators=(",", ":"))


def decode_item(item: str | bytes) -> list[LogEntry]:
    """The entries of one buffered item: an array (a batch) or an object (one entry, as written
    before batches were pushed as one item; a rolling deploy may leave some in the buffer)."""
    values = json.loads(item)
    if isinstance(values, dict):
        return [LogEntry._from_values(values)]
    return [LogEntry._from_values(v) for v in values]


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
            self._redis.rpush(BUFFER_KEY, encode_entries(entries))
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
    ``DEAD_KEY``, kept whole for an operator (``docs/operations.md``). A database that is down
    is no reason: that error goes up and every item stays.
    """
    while True:
        raw: list[bytes] = redis.lrange(BUFFER_KEY, 0, items - 1)  # type: ignore[assignment]
        if not raw:
            return 0
        try:
            entries = [entry for item in raw for entry in decode_item(item)]
            DirectWriter(database).write(entries)
        except REFUSED_DATA as error:
            if isinstance(error, DBAPIError) and not isinstance(error, DataError | IntegrityError):
                raise  # the database failed, not the data: everything stays buffered
            if len(raw) == 1:
                log.error("call log item refused (%s); moved to %s", _first_line(error), DEAD_KEY)
                _move_head_to_dead(redis, raw[0])
            items = 1  # find the refused item: one at a time until the next success
            continue
        redis.ltrim(BUFFER_KEY, len(raw), -1)
        return len(entries)


# What an item can hold that the database refuses: a value too long or out of range, a
# malformed entry, a naive time (StatementError around the column type's ValueError).
REFUSED_DATA = (StatementError, ValueError, TypeError, KeyError)


def _move_head_to_dead(redis: Redis, item: bytes) -> None:
    with redis.pipeline() as pipe:  # MULTI/EXEC: the item is in one list or the other
        pipe.rpush(DEAD_KEY, item)
        pipe.ltrim(BUFFER_KEY, 1, -1)
        pipe.execute()


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:300] if str(error) else type(error).__name__


# Applying entries -------------------------------------------------------------------------


def apply_entries(session: Session, entries: Sequence[LogEntry]) -> None:
    """Apply a batch set by set: a few statements per batch, not per entry or per call."""
    calls = _ensure_calls(session, entries)
    before = {sid: call.progress() for sid, call in calls.items()}
    _insert_events(session, calls, [e for e in entries if e.kind not in CALL_ONLY])
    for entry in entries:
        _update_call(calls[entry.call_sid], entry)
    _settle(session, [call for call in calls.values() if call.ended_at is not None])
    _save_progress(session, calls, before)


PROGRESS = ("last_node", "answered_at", "queue_wait_s", "agent_id", "last_sequence",
            "twilio_status", "ended_at", "duration_s", "outcome")  # fmt: skip


@dataclass(slots=True)
class CallProgress:
    """A call's columns the call log moves on, read in one query and written back only where
    a batch changed them (the ORM's identity map and unit of work cost more than the rows)."""

    id: int
    call_sid: str
    last_node: str | None
    answered_at: datetime | None
    queue_wait_s: int | None
    agent_id: int | None
    last_sequence: int
    twilio_status: str
    ended_at: datetime | None
    duration_s: int | None
    outcome: str | None

    def progress(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in PROGRESS)


def _ensure_calls(session: Session, entries: Sequence[LogEntry]) -> dict[str, CallProgress]:
    first_at: dict[str, datetime] = {}
    started: dict[str, LogEntry] = {}
    for entry in entries:
        if entry.call_sid not in first_at or entry.at < first_at[entry.call_sid]:
            first_at[entry.call_sid] = entry.at
        if entry.kind == CALL_STARTED:
            started[entry.call_sid] = entry
    rows = [_new_call_row(sid, started.get(sid), at) for sid, at in first_at.items()]
    insert_rows_ignoring_conflicts(session, Call.__table__, rows)
    columns = [getattr(Call, name) for name in ("id", "call_sid", *PROGRESS)]
    # Locked up front and in id order (PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers):
    # the write-back below is a statement per set of changed columns, and two writers taking
    # row locks in different orders could deadlock (the direct-write fallback runs in every
    # web process while Redis is down).
    found = session.execute(
        select(*columns)
        .where(Call.call_sid.in_(list(first_at)))
        .order_by(Call.id)
        .with_for_update()
    )
    return {row.call_sid: CallProgress(*row) for row in found}


def _save_progress(
    session: Session, calls: dict[str, CallProgress], before: dict[str, tuple[Any, ...]]
) -> None:
    """Write back what changed: one statement per set of changed columns (as the ORM would
    group them), so a column this batch did not touch is never written."""
    changed: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for sid, call in calls.items():
        old, new = before[sid], call.progress()
        names = tuple(n for n, a, b in zip(PROGRESS, old, new, strict=True) if a != b)
        if names:
            values = {"id": call.id, **{name: getattr(call, name) for name in names}}
            changed.setdefault(names, []).append(values)
    for rows in changed.values():
        update_rows(session, Call.__table__, rows, key="id")


def _new_call_row(sid: str, started: LogEntry | None, first_at: datetime) -> dict[str, Any]:
    info = (started.data if started else None) or {}
    return call_row_values(sid, started.at if started else first_at, info)


def call_row_values(sid: str, started_at: datetime, info: Mapping[str, Any]) -> dict[str, Any]:
    """A new Call row, from what the first webhook said (or nothing yet)."""
    return {
        "call_sid": sid,
        "from_number": info.get("from_number"),
        "from_raw": info.get("from_raw", ""),
        "to_number": info.get("to_number", ""),
        "direction": info.get("direction", "inbound"),
        "twilio_status": "in-progress",
        "is_training": bool(info.get("is_training", False)),
        "started_at": started_at,
        "last_sequence": -1,
    }


def _insert_events(
    session: Session, calls: dict[str, CallProgress], entries: Iterable[LogEntry]
) -> None:
    rows = [
        {
            "call_id": calls[e.call_sid].id,
            "kind": e.kind,
            "node": e.node,
            "value": e.value,
            "at": e.at,
            "dedupe_key": e.dedupe_key,
            "data": e.data,
        }
        for e in entries
    ]
    insert_rows_ignoring_conflicts(session, CallEvent.__table__, rows)


def _update_call(call: CallProgress, entry: LogEntry) -> None:
    data = entry.data or {}
    match entry.kind:
        case "ivr_enter":
            call.last_node = entry.node
        case "connect":
            call.answered_at = call.answered_at or entry.at
            call.queue_wait_s = data.get("wait_s", call.queue_wait_s)
            call.agent_id = data.get("agent_id", call.agent_id)
        case "abandon" | "complete" if "wait_s" in data:
            call.queue_wait_s = data["wait_s"]
        case "call_status":
            _apply_status(call, entry, data)


def _apply_status(call: CallProgress, entry: LogEntry, data: dict[str, Any]) -> None:
    """Status callbacks may repeat and arrive out of order: only a newer one counts."""
    given = data.get("sequence")  # None when Twilio sent no SequenceNumber
    sequence = call.last_sequence + 1 if given is None else int(given)
    status = entry.value or ""
    if sequence <= call.last_sequence and status not in TERMINAL_STATUSES:
        return
    if call.ended_at is not None and status not in TERMINAL_STATUSES:
        return
    call.last_sequence = max(sequence, call.last_sequence)
    call.twilio_status = status
    if status in TERMINAL_STATUSES and call.ended_at is None:
        call.ended_at = entry.at
        duration = data.get("duration")
        call.duration_s = int(duration) if duration is not None else None


def _settle(session: Session, ended: Sequence[CallProgress]) -> None:
    """Decide how ended calls turned out, from everything logged about each so far."""
    if not ended:
        return
    kinds: dict[int, set[str]] = {call.id: set() for call in ended}
    for call_id, kind in session.execute(
        select(CallEvent.call_id, CallEvent.kind).distinct().where(CallEvent.call_id.in_(kinds))
    ):
        kinds[call_id].add(kind)
    rows = []
    for call in ended:
        call.outcome = outcome_of(kinds[call.id], call.twilio_status)
        hung_up_in_ivr = call.outcome == "abandoned_ivr"
        rows.append({
            "call_id": call.id,
            "kind": (CallEventKind.HANGUP if hung_up_in_ivr else CallEventKind.COMPLETE).value,
            "node": call.last_node,
            "value": call.outcome,
            "at": call.ended_at,
            "dedupe_key": f"{call.call_sid}:end",
            "data": {"duration_s": call.duration_s},
        })  # fmt: skip
    # Late entries may change the outcome: the one end event follows it.
    upsert_rows(session, CallEvent.__table__, rows, "dedupe_key", ["kind", "node", "value"])


def outcome_of(kinds: set[str], twilio_status: str) -> str:
    """One outcome per call, the way the supervisor reports group them."""
    if twilio_status in ("busy", "failed", "no-answer", "canceled"):
        return twilio_status.replace("-", "_")
    if "connect" in kinds:
        return "answered"
    if "enqueue" in kinds:
        return "abandoned_queue"
    if "transfer" in kinds:
        return "transferred"
    if kinds & {"ticket_filed", "status_heard"}:
        return "self_service"
    return "abandoned_ivr"
