"""The wallboard (live, over server-sent events) and the staffing page (Erlang C).

A stream is bounded: it ends after ``STREAM_SECONDS`` and the browser's EventSource reconnects
after the ``retry:`` delay, so one wallboard never holds a gunicorn worker for good (run the web
tier with gthread or gevent workers: see docs/metrics.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from flask import Blueprint, Flask, Response, current_app, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session, aliased

from hotline.auth import roles_required
from hotline.calls.desk_models import AgentState, AgentStatus
from hotline.calls.models import Call, CallEvent
from hotline.metrics import erlang, figures
from hotline.metrics.service import MetricsInputError, Period, call_sums, parse_date, today
from hotline.runtime import Runtime, runtime
from ticketing.models import User
from ticketing.permissions import SUPERVISORS

bp = Blueprint("live", __name__, url_prefix="/console")

STREAM_SECONDS = 30
POLL_SECONDS = 0.5
RETRY_MS = 1000
TODAY_EVERY_S = 5.0
HALF_HOUR_S = 1800


# Wallboard ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Live:
    waiting: int
    longest_wait_s: int
    on_call: int
    answered_today: int
    service_level: float | None
    abandon_rate: float | None
    agents_available: int
    agents_on_call: int
    agents_wrap_up: int
    agents_away: int


def agent_counts(session: Session) -> dict[str, int]:
    """Active agents per current state (``agent_states``: everyone who has used the desk)."""
    rows = session.execute(
        select(AgentStatus.state, func.count())
        .join(User, User.id == AgentStatus.user_id)
        .where(User.is_active.is_(True))
        .group_by(AgentStatus.state)
    )
    counts = dict.fromkeys((s.value for s in AgentState), 0)
    counts.update({state: int(count) for state, count in rows})
    return counts


def live_queue(session: Session, now: datetime, since: datetime) -> tuple[int, int, int]:
    """(callers waiting, longest current wait in s, calls with an agent), calls since ``since``."""
    done = aliased(CallEvent)
    left_queue = exists().where(
        done.call_id == CallEvent.call_id, done.kind.in_(("connect", "abandon", "queue_error"))
    )
    waiting = session.execute(
        select(func.count(), func.min(CallEvent.at))
        .join(Call, Call.id == CallEvent.call_id)
        .where(CallEvent.kind == "enqueue", CallEvent.at >= since, Call.ended_at.is_(None),
               Call.is_training.is_(False), ~left_queue)
    ).one()  # fmt: skip
    finished = exists().where(and_(done.call_id == CallEvent.call_id, done.kind == "complete"))
    on_call = session.scalar(
        select(func.count())
        .select_from(CallEvent)
        .join(Call, Call.id == CallEvent.call_id)
        .where(CallEvent.kind == "connect", CallEvent.at >= since, Call.ended_at.is_(None),
               Call.is_training.is_(False), ~finished)
    )  # fmt: skip
    count, oldest = waiting
    longest = int((now - oldest).total_seconds()) if oldest is not None else 0
    return int(count), max(longest, 0), int(on_call or 0)


def _today_figures(rt: Runtime) -> figures.CallFigures:
    day = today(rt)
    return figures.call_figures(
        call_sums(rt, Period.of(day, day, rt.settings.tz)).totals(),
        rt.settings.metrics_sl_abandons,
    )


def live_figures(rt: Runtime, today_figures: figures.CallFigures) -> Live:
    now = rt.clock()
    with rt.uow() as uow:
        waiting, longest, on_call = live_queue(uow.session, now, now - timedelta(hours=12))
        agents = agent_counts(uow.session)
    return Live(waiting, longest, on_call, today_figures.answered, today_figures.service_level,
                today_figures.abandon_rate, agents[AgentState.AVAILABLE],
                agents[AgentState.ON_CALL], agents[AgentState.WRAP_UP],
                agents[AgentState.AWAY])  # fmt: skip


@bp.get("/wallboard")
@roles_required(*SUPERVISORS)
def wallboard() -> ResponseReturnValue:
    rt = runtime()
    return render_template("metrics/wallboard.html", live=live_figures(rt, _today_figures(rt)))


@bp.get("/wallboard/stream")
@roles_required(*SUPERVISORS)
def wallboard_stream() -> ResponseReturnValue:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    rt = runtime(app)

    def events() -> Iterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        with app.app_context():
            yield from _changes(rt)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return Response(events(), mimetype="text/event-stream", headers=headers)


def _changes(rt: Runtime) -> Iterator[str]:
    """Send the figures now and whenever they change, until the stream's time is up."""
    deadline = time.monotonic() + STREAM_SECONDS
    last_sent, today_at, today_figures = "", 0.0, _today_figures(rt)
    while time.monotonic() < deadline:
        if time.monotonic() - today_at >= TODAY_EVERY_S:
            today_figures, today_at = _today_figures(rt), time.monotonic()
        payload = json.dumps(asdict(live_figures(rt, today_figures)))
        if payload != last_sent:
            last_sent = payload
            yield f"event: live\ndata: {payload}\n\n"
        time.sleep(POLL_SECONDS)


# Staffing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StaffingRow:
    start: datetime
    calls: int
    aht_s: float
    plan: erlang.Staffing
    signed_in: float | None  # agents signed in (not away), on average over the half-hour


@dataclass(frozen=True, slots=True)
class StaffingInputs:
    day: date
    target_sl: float
    threshold_s: int
    shrinkage: float
    calls: int | None  # the what-if calculator
    aht_s: int | None
    agents: int | None


def _number(name: str, default: float, low: float, high: float) -> float:
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise MetricsInputError(_("ค่าที่กรอกต้องเป็นตัวเลข")) from exc
    if not low <= value <= high:
        raise MetricsInputError(_("ค่าที่กรอกอยู่นอกช่วงที่ใช้ได้"))
    return value


def _optional(name: str, high: float) -> int | None:
    return int(_number(name, 0, 0, high)) or None if request.args.get(name, "").strip() else None


def _staffing_inputs(rt: Runtime) -> StaffingInputs:
    return StaffingInputs(
        day=parse_date(request.args.get("day"), today(rt) - timedelta(days=1)),
        target_sl=_number("target", 80, 1, 99) / 100,
        threshold_s=int(_number("threshold", rt.settings.metrics_service_level_s, 1, 600)),
        shrinkage=_number("shrinkage", 30, 0, 90) / 100,
        calls=_optional("calls", 100_000),
        aht_s=_optional("aht", 7200),
        agents=_optional("agents", 10_000),
    )


def staffing_rows(rt: Runtime, inputs: StaffingInputs) -> list[StaffingRow]:
    """Erlang C per half-hour of the chosen day, from the calls offered and their handle time,
    beside the agents who were signed in; half-hours with neither are left out.
    """
    sums = call_sums(rt, Period.of(inputs.day, inputs.day, rt.settings.tz))
    totals = sums.totals()
    day_aht = figures.ratio(totals["handle_s"], totals["handled"]) or 180.0
    now, rows = rt.clock(), []
    for start, counts in sorted(sums.buckets.items()):
        signed_in_s = figures.signed_in_s(counts)
        if not (counts["offered"] or signed_in_s):
            continue
        aht = figures.ratio(counts["handle_s"], counts["handled"]) or day_aht
        plan = erlang.staffing(
            counts["offered"], HALF_HOUR_S, aht, target_sl=inputs.target_sl,
            threshold_s=inputs.threshold_s, shrinkage=inputs.shrinkage,
        )  # fmt: skip
        elapsed = min(max((now - start).total_seconds(), 0), HALF_HOUR_S)  # the current one: so far
        signed_in = figures.ratio(signed_in_s, elapsed)
        rows.append(StaffingRow(start.astimezone(rt.settings.tz), counts["offered"], aht, plan,
                                signed_in))  # fmt: skip
    return rows


def signed_in_now(rt: Runtime) -> dict[str, int]:
    with rt.uow() as uow:
        return agent_counts(uow.session)


@dataclass(frozen=True, slots=True)
class WhatIf:
    traffic: float
    service_level: float
    asa_s: float
    occupancy: float


def what_if(inputs: StaffingInputs) -> WhatIf | None:
    if not (inputs.calls and inputs.aht_s and inputs.agents):
        return None
    traffic = erlang.traffic_erlangs(inputs.calls, HALF_HOUR_S, inputs.aht_s)
    if inputs.agents <= traffic:
        raise MetricsInputError(_("จำนวนเจ้าหน้าที่น้อยเกินไป คิวจะยาวขึ้นเรื่อย ๆ"))
    return WhatIf(
        traffic,
        erlang.service_level(inputs.agents, traffic, inputs.aht_s, inputs.threshold_s),
        erlang.average_speed_of_answer(inputs.agents, traffic, inputs.aht_s),
        erlang.occupancy(inputs.agents, traffic),
    )


@bp.get("/staffing")
@roles_required(*SUPERVISORS)
def staffing_page() -> ResponseReturnValue:
    rt = runtime()
    try:
        inputs = _staffing_inputs(rt)
        check = what_if(inputs)
        rows = staffing_rows(rt, inputs)
    except (MetricsInputError, ValueError) as exc:
        return render_template("metrics/error.html", message=str(exc)), 400
    return render_template("metrics/staffing.html", inputs=inputs, rows=rows, check=check,
                           now=signed_in_now(rt))  # fmt: skip


def init_live(app: Flask) -> None:
    app.register_blueprint(bp)
