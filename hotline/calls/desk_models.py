"""The agent desk's tables: who is waiting in the queue now, and what each agent is doing.

``queue_entries`` is written in the enqueue webhook itself (not through the buffered call log)
so the live queue sees a caller the moment they start waiting; the call log stays the record
of what happened. ``agent_state_events`` is append-only, one row per change, so occupancy and
handle times can be computed later; ``agent_states`` holds each agent's current state.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.base import Base, UTCDateTime, utcnow


class AgentState(StrEnum):
    AVAILABLE = "available"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    AWAY = "away"


class QueueEntry(Base):
    """One caller's stay in an agent queue, from <Enqueue> until bridged or gone."""

    __tablename__ = "queue_entries"
    __table_args__ = (Index("ix_queue_entries_waiting", "left_at", "queued_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    queue: Mapped[str] = mapped_column(String(64), default="agents")
    caller: Mapped[str] = mapped_column(String(64), default="")
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    ivr_choices: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    left_reason: Mapped[str | None] = mapped_column(String(20))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    agent_call_sid: Mapped[str | None] = mapped_column(String(64))  # the agent's own leg
    bridge_ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    simulated: Mapped[bool] = mapped_column(default=False)


class AgentStatus(Base):
    """An agent's current state; the history is in AgentStateEvent."""

    __tablename__ = "agent_states"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=AgentState.AWAY.value)
    since: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    call_sid: Mapped[str | None] = mapped_column(String(64))


class AgentStateEvent(Base):
    """Append-only: agent ``user_id`` entered ``state`` at ``at`` (for occupancy, handle time)."""

    __tablename__ = "agent_state_events"
    __table_args__ = (
        Index("ix_agent_state_events_user_at", "user_id", "at"),
        Index("ix_agent_state_events_call_sid", "call_sid"),  # a call's wrap-up (metrics)
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    reason: Mapped[str] = mapped_column(String(20))
    call_sid: Mapped[str | None] = mapped_column(String(64))
