"""Rollup tables: call figures and agent time per half-hour, the IVR funnel and agents per day.

Every row is a pure function of the call log for its period, so a rollup is rebuilt by deleting
the period's rows and writing them again (see :mod:`hotline.metrics.rollup`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketing.db.base import Base, UTCDateTime


class CallRollup(Base):
    """Counts and sums for the calls that started in one half-hour (UTC start of the bucket)."""

    __tablename__ = "metric_call_rollups"

    bucket_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    # Computed in Python at rollup time, so long ranges group in SQL without time-zone functions.
    local_day: Mapped[datetime] = mapped_column(UTCDateTime())
    week_hour: Mapped[int] = mapped_column(Integer)
    calls: Mapped[int] = mapped_column(Integer, default=0)
    offered: Mapped[int] = mapped_column(Integer, default=0)
    answered: Mapped[int] = mapped_column(Integer, default=0)
    answered_in_sl: Mapped[int] = mapped_column(Integer, default=0)
    answer_wait_s: Mapped[int] = mapped_column(Integer, default=0)
    max_wait_s: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_queue: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_in_sl: Mapped[int] = mapped_column(Integer, default=0)
    short_abandons: Mapped[int] = mapped_column(Integer, default=0)
    abandoned_ivr: Mapped[int] = mapped_column(Integer, default=0)
    contained: Mapped[int] = mapped_column(Integer, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handle_s: Mapped[int] = mapped_column(Integer, default=0)
    known_callers: Mapped[int] = mapped_column(Integer, default=0)
    repeat_calls: Mapped[int] = mapped_column(Integer, default=0)
    surveys_offered: Mapped[int] = mapped_column(Integer, default=0)
    survey_responses: Mapped[int] = mapped_column(Integer, default=0)
    survey_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    wrap_s: Mapped[int] = mapped_column(Integer, default=0)
    # Agents' time in the half-hour (all agents together), from agent_state_events.
    agent_available_s: Mapped[int] = mapped_column(Integer, default=0)
    agent_on_call_s: Mapped[int] = mapped_column(Integer, default=0)
    agent_wrap_up_s: Mapped[int] = mapped_column(Integer, default=0)


class FunnelRollup(Base):
    """What callers did at one IVR node on one local day."""

    __tablename__ = "metric_funnel_rollups"

    day_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    node: Mapped[str] = mapped_column(String(80), primary_key=True)
    entered: Mapped[int] = mapped_column(Integer, default=0)
    continued: Mapped[int] = mapped_column(Integer, default=0)
    no_input: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    hung_up: Mapped[int] = mapped_column(Integer, default=0)
    to_agent: Mapped[int] = mapped_column(Integer, default=0)


class AgentRollup(Base):
    """One agent's local day: calls taken and time in each signed-in state.

    Agent 0 gathers answered calls with no agent recorded (and has no time).
    """

    __tablename__ = "metric_agent_rollups"

    day_start: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    agent_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    handle_s: Mapped[int] = mapped_column(Integer, default=0)
    wrap_s: Mapped[int] = mapped_column(Integer, default=0)
    available_s: Mapped[int] = mapped_column(Integer, default=0)
    on_call_s: Mapped[int] = mapped_column(Integer, default=0)
    wrap_up_s: Mapped[int] = mapped_column(Integer, default=0)


class RollupState(Base):
    """One row: the rollups hold agents' time up to ``covered_until`` and every call that ended
    before it and was logged by the refresh that reached it (``calls.rolled_up_at`` marks each
    call added; a call whose end is logged later is added by the next refresh)."""

    __tablename__ = "metric_rollup_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    covered_until: Mapped[datetime] = mapped_column(UTCDateTime())
