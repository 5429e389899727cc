"""The call log's rules: what an entry is, how a batch of entries moves the calls it names on,
and how a call turned out. Pure rules over a session: no Redis, no Flask."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline.calls.kinds import CALL_ONLY, TERMINAL_STATUSES, CallEventKind, CallOutcome
from hotline.calls.models import Call, CallEvent
from ticketing.db.statements import insert_rows_ignoring_conflicts, update_rows, upsert_rows


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
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))

    def as_dict(self) -> dict[str, Any]:
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
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LogEntry:
        values["at"] = datetime.fromisoformat(values["at"])
        return cls(**values)


# The widest value each column of the call log takes; a longer one is cut (the webhook already
# bounded what it read: this also holds entries buffered by an older release).
NODE_CHARS, VALUE_CHARS, KIND_CHARS, DEDUPE_CHARS = 80, 200, 20, 160
STATUS_CHARS, DIRECTION_CHARS, NUMBER_CHARS = 20, 20, 20
# Caller IDs are kept whole (SIP URIs can be long) in a text column, up to a sanity bound.
ADDRESS_CHARS = 2048
# Integers go to 32-bit columns (PostgreSQL's INTEGER); anything outside is not a real value.
INT_MAX = 2**31 - 1


def clean_text(value: object, limit: int) -> str:
    """A value the database can store: no NUL (PostgreSQL text refuses it), no lone surrogate
    (not encodable as UTF-8), at most ``limit`` characters. Webhook values pass through this."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return text[:limit]


def clean_optional(value: object, limit: int) -> str | None:
    return None if value is None else clean_text(value, limit)


def bounded_int(value: object) -> int | None:
    """An integer a 32-bit column holds, or None (absent, malformed or out of range)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if 0 <= number <= INT_MAX else None


def _clean_data(value: Any) -> Any:
    """JSON data with every string cleaned (a NUL is refused by PostgreSQL's JSON text too)."""
    if isinstance(value, str):
        return clean_text(value, ADDRESS_CHARS)
    if isinstance(value, dict):
        return {clean_text(k, VALUE_CHARS): _clean_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_data(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT_MAX:
        return None
    return value


def storable(entry: LogEntry) -> LogEntry:
    """The entry as the database can store it: every text cleaned and cut to its column."""
    return LogEntry(
        clean_text(entry.call_sid, 64),
        clean_text(entry.kind, KIND_CHARS),
        entry.at,
        clean_optional(entry.node, NODE_CHARS),
        clean_optional(entry.value, VALUE_CHARS),
        clean_optional(entry.dedupe_key, DEDUPE_CHARS),
        _clean_data(entry.data) if entry.data is not None else None,
    )


def apply_entries(session: Session, entries: Sequence[LogEntry]) -> None:
    """Apply a batch set by set: a few statements per batch, not per entry or per call."""
    entries = [storable(e) for e in entries]
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
        if entry.kind == CallEventKind.CALL_STARTED:
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


# The columns a new call row is given (the rest are the database's defaults).
CALL_ROW_COLUMNS = ("call_sid", "from_number", "from_raw", "to_number", "direction",
                    "twilio_status", "is_training", "started_at", "last_sequence")  # fmt: skip


def call_row_values(sid: str, started_at: datetime, info: Mapping[str, Any]) -> dict[str, Any]:
    """A new Call row, from what the first webhook said (or nothing yet)."""
    return {
        "call_sid": sid,
        "from_number": clean_optional(info.get("from_number"), NUMBER_CHARS),
        "from_raw": clean_text(info.get("from_raw", ""), ADDRESS_CHARS),
        "to_number": clean_text(info.get("to_number", ""), ADDRESS_CHARS),
        "direction": clean_text(info.get("direction", "inbound"), DIRECTION_CHARS) or "inbound",
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
        case CallEventKind.IVR_ENTER:
            call.last_node = entry.node
        case CallEventKind.CONNECT:
            call.answered_at = call.answered_at or entry.at
            call.queue_wait_s = _int_or(data, "wait_s", call.queue_wait_s)
            call.agent_id = _int_or(data, "agent_id", call.agent_id)
        case CallEventKind.ABANDON | CallEventKind.COMPLETE if "wait_s" in data:
            call.queue_wait_s = bounded_int(data["wait_s"])
        case CallEventKind.CALL_STATUS:
            _apply_status(call, entry, data)


def _int_or(data: dict[str, Any], name: str, default: int | None) -> int | None:
    return bounded_int(data[name]) if name in data else default


def _apply_status(call: CallProgress, entry: LogEntry, data: dict[str, Any]) -> None:
    """Status callbacks may repeat and arrive out of order: only a newer one counts."""
    given = bounded_int(data.get("sequence"))  # None when Twilio sent no SequenceNumber
    sequence = call.last_sequence + 1 if given is None else given
    status = clean_text(entry.value or "", STATUS_CHARS)
    if sequence <= call.last_sequence and status not in TERMINAL_STATUSES:
        return
    if call.ended_at is not None and status not in TERMINAL_STATUSES:
        return
    call.last_sequence = max(sequence, call.last_sequence)
    call.twilio_status = status
    if status in TERMINAL_STATUSES and call.ended_at is None:
        call.ended_at = entry.at
        call.duration_s = bounded_int(data.get("duration"))


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
        call.outcome = outcome_of(kinds[call.id], call.twilio_status).value
        hung_up_in_ivr = call.outcome == CallOutcome.ABANDONED_IVR
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


def outcome_of(kinds: set[str], twilio_status: str) -> CallOutcome:
    """How a call turned out, from the kinds of event it had and Twilio's last status."""
    if twilio_status in ("busy", "failed", "no-answer", "canceled"):
        return CallOutcome(twilio_status.replace("-", "_"))
    if CallEventKind.CONNECT in kinds:
        return CallOutcome.ANSWERED
    if CallEventKind.ENQUEUE in kinds:
        return CallOutcome.ABANDONED_QUEUE
    if CallEventKind.TRANSFER in kinds:
        return CallOutcome.TRANSFERRED
    if kinds & {CallEventKind.TICKET_FILED, CallEventKind.STATUS_HEARD}:
        return CallOutcome.SELF_SERVICE
    return CallOutcome.ABANDONED_IVR
