"""The agent desk's rules: the live queue, agent states, taking a caller, the screen pop, wrap-up.

The live queue's source of truth is ``queue_entries``: the enqueue webhook writes a row at once
(:func:`note_queued`), and a caller leaves it when an agent takes the call (written here, at
once) or when the call log says the caller hung up, errored out or the call ended (those entries
may sit in the Redis buffer for a second before the worker flushes them; the listing notices
them on its next read and closes the row). No Redis state is involved: losing Redis loses
nothing the queue needs.

Agent states: available → on_call (took a call) → wrap_up (the call ended) → available (wrap-up
submitted with a disposition); available ↔ away by hand. Every change is an AgentStateEvent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session

from hotline.calls.buffer import CallLogWriter
from hotline.calls.desk_models import AgentState, AgentStateEvent, AgentStatus, QueueEntry
from hotline.calls.kinds import CallEventKind
from hotline.calls.log import LogEntry
from hotline.calls.models import Call, CallEvent
from ticketing.db.engine import Database
from ticketing.db.statements import insert_for_dialect, insert_ignoring_conflicts
from ticketing.db.uow import UnitOfWork
from ticketing.models import Category, Ticket, User
from ticketing.permissions import STAFF
from ticketing.phones import mask_phone

log = logging.getLogger(__name__)

# Events in the call log that mean the caller is no longer waiting.
LEFT_QUEUE = (CallEventKind.CONNECT, CallEventKind.ABANDON, CallEventKind.QUEUE_ERROR,
              CallEventKind.COMPLETE, CallEventKind.HANGUP)  # fmt: skip
# What the agent desk shows of the IVR's data: never the citizen ID keyed for a status lookup.
PRIVATE_DATA = frozenset({"citizen_id", "queued_at"})
DISPOSITIONS: dict[str, tuple[str, str]] = {
    "resolved": ("ตอบคำถามหรือแก้ไขได้ในสาย", "Answered or resolved on the call"),
    "ticket_filed": ("รับเรื่องร้องเรียนแล้ว", "Complaint filed"),
    "status_given": ("แจ้งความคืบหน้าเรื่องเดิม", "Progress of an earlier complaint given"),
    "referred_elsewhere": ("แนะนำให้ติดต่อหน่วยงานอื่น", "Directed to another service"),
    "callback": ("ต้องโทรกลับ", "Call back needed"),
    "dropped": ("สายหลุดหรือไม่มีเสียง", "Dropped or silent call"),
    "nuisance": ("สายก่อกวน", "Nuisance call"),
}
DESK_ROLES = STAFF


class DeskError(Exception):
    """A desk action that cannot be done now; ``code`` names why (shown to the agent)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# The queue ---------------------------------------------------------------------------------


def note_queued(
    database: Database, call_sid: str, caller: str, queue: str,
    data: Mapping[str, str], at: datetime, *, simulated: bool,
) -> None:  # fmt: skip
    """The enqueue webhook's hook: the caller is waiting now (a replay changes nothing)."""
    choices = {k: v for k, v in data.items() if k not in PRIVATE_DATA}
    row = {
        "call_sid": call_sid, "queue": queue, "caller": caller, "queued_at": at,
        "ivr_choices": choices, "left_at": None, "left_reason": None, "agent_id": None,
        "answered_at": None, "agent_call_sid": None, "bridge_ended_at": None,
        "simulated": simulated,
    }  # fmt: skip
    # One statement, committed alone (this runs on every queued call): a new stay (or the same
    # caller back after leaving) starts afresh; a replay while the caller still waits changes
    # nothing (the row is not left).
    database.execute_alone(_queued_upsert(database.dialect), [row])


@cache
def _queued_upsert(dialect: str) -> Any:
    statement = insert_for_dialect(dialect)(QueueEntry.__table__)
    changes = {c.name: statement.excluded[c.name] for c in QueueEntry.__table__.columns
               if c.name not in ("id", "call_sid")}  # fmt: skip
    return statement.on_conflict_do_update(
        index_elements=["call_sid"], set_=changes, where=QueueEntry.__table__.c.left_at.isnot(None)
    )


@dataclass(frozen=True)
class WaitingCaller:
    call_sid: str
    masked_phone: str
    queued_at: datetime
    wait_s: int
    category: tuple[str, str | None] | None
    choices: list[tuple[str, str]]  # (menu node, key pressed), in order
    earlier_tickets: int
    simulated: bool


def waiting_callers(database: Database, now: datetime) -> list[WaitingCaller]:
    """Callers waiting now, longest first; rows of callers who left are closed on the way."""
    with UnitOfWork(database) as uow:
        session = uow.session
        entries = list(
            session.scalars(
                select(QueueEntry)
                .where(QueueEntry.left_at.is_(None))
                .order_by(QueueEntry.queued_at, QueueEntry.id)
            )
        )
        gone = _left_by_call_log(session, entries)
        if gone:
            for entry in entries:
                if entry.call_sid in gone:
                    entry.left_at, entry.left_reason = now, gone[entry.call_sid]
            uow.commit()
        still = [e for e in entries if e.call_sid not in gone]
        tickets = _ticket_counts(session, {e.caller for e in still})
        paths = _menu_paths(session, [e.call_sid for e in still])
        names = _category_names(session)
        return [
            WaitingCaller(
                call_sid=e.call_sid,
                masked_phone=mask_phone(e.caller) if e.caller.startswith("+") else e.caller,
                queued_at=e.queued_at,
                wait_s=max(0, int((now - e.queued_at).total_seconds())),
                category=names.get(e.ivr_choices.get("category", "")),
                choices=paths.get(e.call_sid, []),
                earlier_tickets=tickets.get(e.caller, 0),
                simulated=e.simulated,
            )
            for e in still
        ]


def _left_by_call_log(session: Session, entries: Sequence[QueueEntry]) -> dict[str, str]:
    """call SID → why, for the waiting rows whose call the call log says has moved on."""
    if not entries:
        return {}
    sids = [e.call_sid for e in entries]
    left = exists().where(CallEvent.call_id == Call.id, CallEvent.kind.in_(LEFT_QUEUE))
    rows = session.execute(
        select(Call.call_sid, Call.ended_at.is_not(None), left).where(Call.call_sid.in_(sids))
    ).all()
    return {sid: "ended" if ended else "left" for sid, ended, moved in rows if ended or moved}


def _ticket_counts(session: Session, phones: set[str]) -> dict[str, int]:
    phones.discard("")
    if not phones:
        return {}
    rows = session.execute(
        select(Ticket.caller_phone, func.count())
        .where(Ticket.caller_phone.in_(phones), Ticket.is_training.is_(False))
        .group_by(Ticket.caller_phone)
    ).all()
    return {phone: count for phone, count in rows if phone}


def _menu_paths(session: Session, sids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    if not sids:
        return {}
    rows = session.execute(
        select(Call.call_sid, CallEvent.node, CallEvent.value)
        .join(CallEvent, CallEvent.call_id == Call.id)
        .where(Call.call_sid.in_(sids), CallEvent.kind == "ivr_input")
        .order_by(CallEvent.at, CallEvent.id)
    ).all()
    paths: dict[str, list[tuple[str, str]]] = {}
    for sid, node, value in rows:
        paths.setdefault(sid, []).append((node or "", value or ""))
    return paths


def _category_names(session: Session) -> dict[str, tuple[str, str | None]]:
    """code → (Thai name, English name)."""
    rows = session.execute(select(Category.code, Category.name_th, Category.name_en))
    return {code: (th, en) for code, th, en in rows}


# Agent states ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentView:
    user_id: int
    name: str
    state: str
    since: datetime
    call_sid: str | None


def agent_view(database: Database, user_id: int) -> AgentView:
    with UnitOfWork(database) as uow:
        status = uow.session.get(AgentStatus, user_id)
        user = uow.session.get(User, user_id)
        name = user.display_name if user else ""
        if status is None:
            return AgentView(user_id, name, AgentState.AWAY.value, _epoch(), None)
        return AgentView(user_id, name, status.state, status.since, status.call_sid)


def agent_views(database: Database) -> list[AgentView]:
    """Every agent who has ever been on the desk, by name."""
    with UnitOfWork(database) as uow:
        rows = uow.session.execute(
            select(AgentStatus, User.display_name)
            .join(User, User.id == AgentStatus.user_id)
            .where(User.is_active.is_(True))
            .order_by(User.display_name)
        ).all()
    return [AgentView(s.user_id, name, s.state, s.since, s.call_sid) for s, name in rows]


@dataclass(frozen=True)
class StateChange:
    name: str
    state: str
    previous: str | None
    at: datetime
    reason: str


def recent_state_changes(database: Database, limit: int = 100) -> list[StateChange]:
    """The latest agent state changes, newest first (the supervisor's view of the floor)."""
    with UnitOfWork(database) as uow:
        rows = uow.session.execute(
            select(AgentStateEvent, User.display_name)
            .join(User, User.id == AgentStateEvent.user_id)
            .order_by(AgentStateEvent.at.desc(), AgentStateEvent.id.desc())
            .limit(limit)
        ).all()
    return [StateChange(name, e.state, e.previous, e.at, e.reason) for e, name in rows]


def set_state_by_hand(database: Database, user_id: int, state: str, now: datetime) -> None:
    """The agent's own choice: only between available and away (calls move the rest)."""
    if state not in (AgentState.AVAILABLE, AgentState.AWAY):
        raise DeskError("bad_state", f"unknown or automatic state: {state[:20]}")
    with UnitOfWork(database) as uow:
        current = _status_for_update(uow.session, user_id, now)
        if current.state == AgentState.ON_CALL:
            raise DeskError("on_call", "end the call first")
        if current.state == AgentState.WRAP_UP:
            raise DeskError("wrap_up_needed", "submit the wrap-up first")
        _move(uow.session, current, state, now, "manual")
        uow.commit()


def _status_for_update(session: Session, user_id: int, now: datetime) -> AgentStatus:
    status = session.scalars(
        select(AgentStatus).where(AgentStatus.user_id == user_id).with_for_update()
    ).first()
    if status is None:  # the agent's first desk action: create the row, whoever races us
        row = {"user_id": user_id, "state": AgentState.AWAY.value, "since": now}
        session.execute(insert_ignoring_conflicts(session, AgentStatus.__table__), [row])
        status = session.scalars(
            select(AgentStatus).where(AgentStatus.user_id == user_id).with_for_update()
        ).one()
    return status


def _move(
    session: Session, status: AgentStatus, state: str, now: datetime, reason: str,
    call_sid: str | None = None,
) -> None:  # fmt: skip
    if status.state == state and status.call_sid == call_sid:
        return
    session.add(AgentStateEvent(user_id=status.user_id, state=state, previous=status.state,
                                at=now, reason=reason, call_sid=call_sid))  # fmt: skip
    status.state, status.since, status.call_sid = state, now, call_sid


# Taking a caller ---------------------------------------------------------------------------


def take_next_simulated(
    database: Database, writer: CallLogWriter, user_id: int, now: datetime
) -> str:
    """The embedded demo's "take the next caller": dequeue the longest waiting, no audio."""
    waiting = waiting_callers(database, now)  # also closes rows of callers already gone
    for caller in waiting:
        if _claim(database, writer, user_id, caller.call_sid, now, None, simulated_only=True):
            return caller.call_sid
    raise DeskError("queue_empty", "no caller is waiting")


def bridge_from_twilio(
    database: Database, writer: CallLogWriter, user_id: int, call_sid: str,
    agent_call_sid: str | None, now: datetime,
) -> bool:  # fmt: skip
    """Twilio is bridging ``call_sid`` to the agent's leg (<Dial><Queue url>): note it."""
    return _claim(database, writer, user_id, call_sid, now, agent_call_sid, simulated_only=False)


def _claim(
    database: Database, writer: CallLogWriter, user_id: int, call_sid: str, now: datetime,
    agent_call_sid: str | None, *, simulated_only: bool,
) -> bool:  # fmt: skip
    """Give the caller to the agent, once: two agents racing for one caller, one wins."""
    with UnitOfWork(database) as uow:
        session = uow.session
        status = _status_for_update(session, user_id, now)
        if status.state in (AgentState.ON_CALL, AgentState.WRAP_UP):
            raise DeskError("busy", "finish the current call first")
        claim = (
            update(QueueEntry)
            .where(QueueEntry.call_sid == call_sid, QueueEntry.left_at.is_(None))
            .values(
                left_at=now,
                left_reason="bridged",
                agent_id=user_id,
                answered_at=now,
                agent_call_sid=agent_call_sid,
            )
        )
        if simulated_only:
            claim = claim.where(QueueEntry.simulated.is_(True))
        if session.execute(claim).rowcount != 1:  # type: ignore[attr-defined]
            return False
        queued_at = session.scalar(
            select(QueueEntry.queued_at).where(QueueEntry.call_sid == call_sid)
        )
        _move(session, status, AgentState.ON_CALL, now, "call_taken", call_sid)
        uow.commit()
    wait_s = int((now - queued_at).total_seconds()) if queued_at else None
    writer.write([LogEntry(call_sid, CallEventKind.CONNECT, now, dedupe_key=f"{call_sid}:connect",
                           data={"wait_s": wait_s, "agent_id": user_id})])  # fmt: skip
    return True


def end_simulated_call(database: Database, user_id: int, now: datetime) -> str:
    """The agent hangs up a simulated call: the simulator's caller hears the call end."""
    with UnitOfWork(database) as uow:
        status = _status_for_update(uow.session, user_id, now)
        if status.state != AgentState.ON_CALL or status.call_sid is None:
            raise DeskError("not_on_call", "there is no call to end")
        entry = uow.session.scalars(
            select(QueueEntry).where(QueueEntry.call_sid == status.call_sid)
        ).first()
        if entry is None or not entry.simulated:
            raise DeskError("not_simulated", "hang up on the phone: this call is real")
        entry.bridge_ended_at = now
        call_sid = status.call_sid
        _move(uow.session, status, AgentState.WRAP_UP, now, "call_ended", call_sid)
        uow.commit()
    return call_sid


def simulated_caller_left(database: Database, call_sid: str, now: datetime) -> bool:
    """The simulator's caller hung up while an agent had them (audio simulated): end the bridge
    and move that agent to wrap-up, as Twilio ends a real agent's leg. True if a bridge ended."""
    with UnitOfWork(database) as uow:
        entry = uow.session.scalars(
            select(QueueEntry)
            .where(QueueEntry.call_sid == call_sid, QueueEntry.simulated.is_(True))
            .with_for_update()
        ).first()
        if entry is None or entry.agent_id is None or entry.answered_at is None:
            return False
        if entry.bridge_ended_at is not None:  # the agent hung up first
            return False
        entry.bridge_ended_at = now
        status = _status_for_update(uow.session, entry.agent_id, now)
        if status.state == AgentState.ON_CALL and status.call_sid == call_sid:
            _move(uow.session, status, AgentState.WRAP_UP, now, "caller_hung_up", call_sid)
        uow.commit()
    return True


def agent_leg_ended(database: Database, user_id: int, now: datetime) -> bool:
    """The agent's Twilio leg ended (<Dial> action): on a call → wrap-up; True if it was."""
    with UnitOfWork(database) as uow:
        status = _status_for_update(uow.session, user_id, now)
        if status.state != AgentState.ON_CALL:
            uow.commit()
            return False
        _move(uow.session, status, AgentState.WRAP_UP, now, "call_ended", status.call_sid)
        uow.commit()
    return True


def member_state(database: Database, call_sid: str) -> tuple[str, str]:
    """For the simulated caller waiting in <Enqueue>: (waiting|bridged|ended|gone, agent name)."""
    with UnitOfWork(database) as uow:
        row = uow.session.execute(
            select(QueueEntry, User.display_name)
            .outerjoin(User, User.id == QueueEntry.agent_id)
            .where(QueueEntry.call_sid == call_sid)
        ).first()
    if row is None:
        return "gone", ""
    entry, agent = row
    if entry.bridge_ended_at is not None:
        return "ended", agent or ""
    if entry.answered_at is not None:
        return "bridged", agent or ""
    return ("waiting", "") if entry.left_at is None else ("gone", "")


# Wrap-up -----------------------------------------------------------------------------------


def wrap_up(database: Database, user_id: int, disposition: str, now: datetime) -> str:
    """Store the disposition on the call and make the agent available again; the call SID."""
    if disposition not in DISPOSITIONS:
        raise DeskError("bad_disposition", "choose a disposition code")
    with UnitOfWork(database) as uow:
        status = _status_for_update(uow.session, user_id, now)
        if status.state != AgentState.WRAP_UP or status.call_sid is None:
            raise DeskError("not_wrapping_up", "there is no call to wrap up")
        call = uow.session.scalars(select(Call).where(Call.call_sid == status.call_sid)).first()
        if call is None:  # the call log has not caught up yet (buffered entries)
            raise DeskError("call_not_logged", "the call log is catching up; try again")
        call.disposition, call.wrapped_up_at = disposition, now
        call_sid = status.call_sid
        _move(uow.session, status, AgentState.AVAILABLE, now, "wrap_up")
        uow.commit()
    return call_sid


# The screen pop ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreenPop:
    call_sid: str
    phone: str
    category: tuple[str, str | None] | None
    choices: dict[str, str]
    path: list[tuple[str, str]]
    earlier_calls: list[dict[str, Any]]
    tickets: list[dict[str, Any]]
    simulated: bool


def screen_pop(database: Database, call_sid: str, limit: int = 5) -> ScreenPop | None:
    """Who is on the line: number, IVR choices, earlier calls and tickets of that number."""
    with UnitOfWork(database) as uow:
        session = uow.session
        entry = session.scalars(select(QueueEntry).where(QueueEntry.call_sid == call_sid)).first()
        if entry is None:
            return None
        phone = entry.caller
        calls = session.execute(
            select(Call.call_sid, Call.started_at, Call.outcome)
            .where(
                Call.from_number == phone, Call.call_sid != call_sid, Call.is_training.is_(False)
            )
            .order_by(Call.started_at.desc())
            .limit(limit)
        ).all()
        tickets = session.execute(
            select(
                Ticket.number, Ticket.status, Ticket.created_at, Category.name_th, Category.name_en
            )
            .join(Category, Category.id == Ticket.category_id)
            .where(Ticket.caller_phone == phone, Ticket.is_training.is_(False))
            .order_by(Ticket.created_at.desc())
            .limit(limit)
        ).all()
        names = _category_names(session)
        path = _menu_paths(session, [call_sid]).get(call_sid, [])
    return ScreenPop(
        call_sid=call_sid,
        phone=phone,
        category=names.get(entry.ivr_choices.get("category", "")),
        choices=dict(entry.ivr_choices),
        path=path,
        earlier_calls=[
            {"sid": c.call_sid, "at": c.started_at, "outcome": c.outcome} for c in calls
        ],
        tickets=[
            {
                "number": t.number,
                "status": t.status,
                "at": t.created_at,
                "category": (t.name_th, t.name_en),
            }
            for t in tickets
        ],
        simulated=entry.simulated,
    )


def _epoch() -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC)
