"""Filling the call log's gaps from Twilio's own call records (after a Redis loss, say).

Pure rules over a session: the records come from the REST adapter. A call we never logged gets
its row, a call we logged without its end gets its end; both go through the call log's own
rules (:func:`apply_entries`), so the outcome is decided as for any call, and each such call is
marked ``reconciled_at``. A call we already closed is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from hotline.calls.kinds import TERMINAL_STATUSES, CallEventKind
from hotline.calls.log import LogEntry, apply_entries, bounded_int
from hotline.calls.models import Call
from ticketing.phones import normalize_phone


@dataclass(frozen=True, slots=True)
class TwilioCall:
    """One of Twilio's call records (the REST Calls list)."""

    sid: str
    from_: str
    to: str
    start: datetime | None
    end: datetime | None
    duration: str | None
    status: str
    direction: str = "inbound"
    parent_sid: str | None = None


def reconcile(session: Session, records: Sequence[TwilioCall], now: datetime) -> int:
    """Fill the calls and outcomes we lack from ``records``; returns how many calls."""
    # Only citizens' calls (not an agent's leg) that have ended: a call in progress is still
    # being logged by its webhooks.
    ended = [
        r for r in records
        if r.direction == "inbound" and not r.parent_sid and r.start is not None
        and r.status in TERMINAL_STATUSES
    ]  # fmt: skip
    if not ended:
        return 0
    found = session.execute(
        select(Call.call_sid, Call.ended_at).where(Call.call_sid.in_([r.sid for r in ended]))
    )
    known = {sid: ended_at for sid, ended_at in found}
    gaps = [r for r in ended if r.sid not in known or known[r.sid] is None]
    entries: list[LogEntry] = []
    for r in gaps:
        assert r.start is not None  # noqa: S101 - filtered above
        if r.sid not in known:
            info = {"from_number": normalize_phone(r.from_).e164, "from_raw": r.from_,
                    "to_number": r.to, "direction": r.direction}  # fmt: skip
            entries.append(LogEntry(r.sid, CallEventKind.CALL_STARTED, r.start,
                                    dedupe_key=f"{r.sid}:started", data=info))  # fmt: skip
        data = {"sequence": None, "duration": bounded_int(r.duration)}
        entries.append(LogEntry(r.sid, CallEventKind.CALL_STATUS, r.end or r.start,
                                value=r.status, data=data))  # fmt: skip
    if not entries:
        return 0
    apply_entries(session, entries)
    session.execute(
        update(Call).where(Call.call_sid.in_([r.sid for r in gaps])).values(reconciled_at=now)
    )
    return len(gaps)
