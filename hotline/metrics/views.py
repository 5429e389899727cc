"""Supervisor pages: the metrics dashboard and its exports (the wallboard and staffing: live.py).

Views stay thin: figures come from :mod:`hotline.metrics.service` and the pure modules beside it.
Agency users reach the dashboard too, but see only ticket figures of what was referred to them
(calls are never referred, so call figures are not theirs to see).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import geothai
from flask import Blueprint, Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from hotline.auth import current_user, roles_required
from hotline.i18n import current_language, localized
from hotline.metrics import figures, tickets
from hotline.metrics.export import Cell, Table, When, to_csv, to_xlsx
from hotline.metrics.service import (
    MetricsInputError,
    Period,
    call_figures,
    call_sums,
    parse_date,
    today,
)
from hotline.runtime import Runtime, runtime
from ticketing.models import Agency, Category, Center, CenterKind, Role, User
from ticketing.permissions import SUPERVISORS
from ticketing.statuses import STATUS_TEXT

bp = Blueprint("metrics", __name__, url_prefix="/console")
MAX_HOURLY_DAYS = 31
WEEKDAYS = (_l("จ."), _l("อ."), _l("พ."), _l("พฤ."), _l("ศ."), _l("ส."), _l("อา."))


@dataclass(frozen=True, slots=True)
class Filters:
    period: Period
    interval: str
    center_id: int | None
    province_code: str | None
    agency_id: int | None

    def query_args(self) -> dict[str, str]:
        args = {"from": self.period.first.isoformat(), "to": self.period.last.isoformat(),
                "interval": self.interval}  # fmt: skip
        if self.center_id is not None:
            args["center"] = str(self.center_id)
        if self.province_code is not None:
            args["province"] = self.province_code
        return args


def _filters(rt: Runtime, user: User) -> Filters:
    args = request.args
    last = parse_date(args.get("to"), today(rt))
    first = parse_date(args.get("from"), last - timedelta(days=29))
    interval = args.get("interval", "day")
    if interval not in figures.INTERVALS:
        raise MetricsInputError(_("ช่วงเวลาต้องเป็นรายชั่วโมง รายวัน หรือรายสัปดาห์"))
    if interval == "hour" and (last - first).days >= MAX_HOURLY_DAYS:
        raise MetricsInputError(_("แสดงรายชั่วโมงได้ไม่เกิน %(days)s วัน", days=MAX_HOURLY_DAYS))
    center = args.get("center") or None
    if center is not None and not center.isdigit():
        raise MetricsInputError(_("ไม่พบศูนย์ที่เลือก"))
    province = args.get("province") or None
    if province is not None and province not in {p.code for p in geothai.provinces()}:
        raise MetricsInputError(_("ไม่พบจังหวัดที่เลือก"))
    agency = user.agency_id if user.role == Role.AGENCY else None
    if user.role == Role.AGENCY and agency is None:
        abort(403)
    return Filters(Period.of(first, last, rt.settings.tz), interval,
                   int(center) if center else None, province, agency)  # fmt: skip


FilteredView = Callable[..., ResponseReturnValue]


def _with_filters(view: FilteredView) -> Callable[..., ResponseReturnValue]:
    """Parse the filters (400 on bad input). Pages only read: calls not rolled up yet come from
    the live tail, and keeping the rollups is the worker's job (the embedded mode's keeper, the
    command), never a request's."""

    def wrapper(**kwargs: Any) -> ResponseReturnValue:
        rt, user = runtime(), current_user()
        assert user is not None  # noqa: S101 - roles_required ran first
        try:
            filters = _filters(rt, user)
        except MetricsInputError as exc:
            return render_template("metrics/error.html", message=str(exc)), 400
        return view(rt, user, filters, **kwargs)

    wrapper.__name__ = view.__name__
    return wrapper


# Dashboard ------------------------------------------------------------------------------


@bp.get("/metrics")
@roles_required(*SUPERVISORS, Role.AGENCY)
@_with_filters
def dashboard(rt: Runtime, user: User, filters: Filters) -> ResponseReturnValue:
    board = _build(rt, filters)
    return render_template(
        "metrics/dashboard.html", board=board, filters=filters, args=filters.query_args(),
        centers=_centers(rt, pickable=True), provinces=_province_names(),
        intervals=_interval_names(), sl_rule=_sl_rule_text(rt), settings=rt.settings,
    )  # fmt: skip


@bp.get("/metrics/export/<name>")
@roles_required(*SUPERVISORS, Role.AGENCY)
@_with_filters
def export(rt: Runtime, user: User, filters: Filters, name: str) -> ResponseReturnValue:
    board = _build(rt, filters)
    table = board.tables.get(name)
    if table is None:
        abort(404)
    stem = f"1567-{table.key}-{filters.period.first:%Y%m%d}-{filters.period.last:%Y%m%d}"
    if request.args.get("format") == "xlsx":
        mimetype = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        body, filename = to_xlsx(table), f"{stem}.xlsx"
    else:
        mimetype, body, filename = "text/csv", to_csv(table), f"{stem}.csv"
    disposition = f'attachment; filename="{filename}"'
    # Flask adds "; charset=utf-8" to text types itself: naming it here as well doubled it.
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": disposition})


@dataclass
class Board:
    calls: figures.CallFigures | None
    series: list[dict[str, Any]]
    heatmap: list[list[int]]
    funnel: list[tuple[str, dict[str, int]]]
    overdue: int
    tables: dict[str, Table]


def _build(rt: Runtime, filters: Filters) -> Board:
    scope = tickets.TicketScope(filters.period.start, filters.period.end, filters.center_id,
                                filters.province_code, filters.agency_id)  # fmt: skip
    tables: dict[str, Table] = {}
    calls, series, grid, funnel = None, [], [[0] * 24 for _ in range(7)], []
    if filters.agency_id is None:
        sums = call_sums(rt, filters.period, by_day=filters.interval != "hour")
        calls = call_figures(rt, sums)
        series = _series(rt, sums, filters.interval)
        grid, funnel = figures.heatmap(sums), figures.funnel(sums)
        tables["calls"] = _series_table(series)
        tables["heatmap"] = _heatmap_table(grid)
        tables["funnel"] = _funnel_table(funnel)
        tables["agents"] = _agents_table(rt, figures.agents(sums))
    categories, centers = _category_names(rt), dict(_centers(rt))
    agencies = _agency_names(rt)
    with rt.uow() as uow:
        session, now = uow.session, rt.clock()
        by_category = tickets.tickets_by(session, scope, "category_id")
        by_province = tickets.tickets_by(session, scope, "province_code")
        by_center = tickets.tickets_by(session, scope, "center_id")
        by_status = tickets.tickets_by(session, scope, "status")
        overdue = tickets.overdue_tickets(session, scope, now)
        turnaround = tickets.referral_turnaround(session, scope, now)
    tables["categories"] = _named_table("categories", _("เรื่องร้องเรียนตามประเภท"), _("ประเภท"),
                                        by_category, categories)  # fmt: skip
    tables["provinces"] = _named_table("provinces", _("เรื่องร้องเรียนตามจังหวัด"), _("จังหวัด"),
                                       by_province, _province_names())  # fmt: skip
    tables["centers"] = _named_table("centers", _("เรื่องร้องเรียนตามศูนย์"), _("ศูนย์"),
                                     by_center, centers)  # fmt: skip
    tables["statuses"] = _named_table("statuses", _("เรื่องร้องเรียนตามสถานะ"), _("สถานะ"),
                                      by_status, _status_names())  # fmt: skip
    tables["referrals"] = _referral_table(agencies, turnaround)
    return Board(calls, series, grid, funnel, overdue, tables)


def _series(rt: Runtime, sums: Any, interval: str) -> list[dict[str, Any]]:
    rule = rt.settings.metrics_sl_abandons
    rows = []
    for start, counts in figures.series(sums, interval, rt.settings.tz):
        rows.append({
            "label": _period_label(start, interval), "start": start,
            "hourly": interval == "hour",
            "calls": counts["calls"], "offered": counts["offered"],
            "answered": counts["answered"], "abandoned": counts["abandoned_queue"],
            "service_level": figures.service_level(counts, rule),
        })  # fmt: skip
    return rows


def _period_label(start: datetime, interval: str) -> str:
    year = start.year + 543 if current_language() == "th" else start.year  # Buddhist era in Thai
    if interval == "hour":
        return f"{start.day}/{start.month}/{year} {start:%H}:00"
    return f"{start.day}/{start.month}/{year}"


def _percent(value: float | None) -> float | None:
    return round(value * 100, 1) if value is not None else None


def _series_table(series: list[dict[str, Any]]) -> Table:
    headers = [_("ช่วงเวลา"), _("สายเข้า"), _("เข้าคิว"), _("รับสาย"), _("วางสายระหว่างรอ"),
               _("ระดับบริการ (%)")]  # fmt: skip
    rows = [[When(r["start"], r["hourly"], r["label"]), r["calls"],
             r["offered"], r["answered"], r["abandoned"],
             _percent(r["service_level"])] for r in series]  # fmt: skip
    return Table("calls", _("สายเข้าและระดับบริการ"), headers, rows)


def _heatmap_table(grid: list[list[int]]) -> Table:
    headers = [_("วัน"), *(f"{hour:02d}" for hour in range(24))]
    rows: list[list[Cell]] = [[str(WEEKDAYS[day]), *grid[day]] for day in range(7)]
    return Table("heatmap", _("สายเข้าตามวันและชั่วโมง"), headers, rows)


def _funnel_table(funnel: list[tuple[str, dict[str, int]]]) -> Table:
    headers = [_("ขั้นตอนในเมนู"), _("เข้าถึง"), _("ไปต่อ"), _("ไม่กดปุ่ม"), _("กดผิด"),
               _("วางสาย"), _("ต่อเจ้าหน้าที่")]  # fmt: skip
    rows: list[list[Cell]] = [
        [node, c["entered"], c["continued"], c["no_input"], c["invalid"], c["hung_up"],
         c["to_agent"]] for node, c in funnel
    ]  # fmt: skip
    return Table("funnel", _("เส้นทางในระบบตอบรับอัตโนมัติ"), headers, rows)


def _agents_table(rt: Runtime, agents: dict[int, figures.AgentFigures]) -> Table:
    names = _user_names(rt, [a for a in agents if a])
    headers = [_("เจ้าหน้าที่"), _("สายที่รับ"), _("เวลาจัดการเฉลี่ย (วินาที)"),
               _("เวลาสรุปงานเฉลี่ย (วินาที)"), _("เวลาเข้าระบบ (ชั่วโมง)"),
               _("อัตราการใช้งาน (%)")]  # fmt: skip
    rows: list[list[Cell]] = []
    for agent, row in sorted(agents.items(), key=lambda item: (-item[1].handled, item[0])):
        name = names.get(agent, str(agent)) if agent else _("ไม่ระบุเจ้าหน้าที่")
        rows.append([name, row.handled, _rounded(row.aht_s), _rounded(row.wrap_s),
                     round(row.signed_in_s / 3600, 1), _percent(row.occupancy)])  # fmt: skip
    return Table("agents", _("เจ้าหน้าที่"), headers, rows)


def _rounded(value: float | None) -> int | None:
    return round(value) if value is not None else None


def _named_table(key: str, title: str, label: str, counts: list[tuple[Any, int]],
                 names: dict[Any, str]) -> Table:  # fmt: skip
    rows: list[list[Cell]] = [
        [names.get(code, str(code) if code is not None else _("ไม่ระบุ")), count]
        for code, count in counts
    ]
    return Table(key, title, [label, _("จำนวนเรื่อง")], rows)


def _agency_names(rt: Runtime) -> dict[int, str]:
    with rt.uow() as uow:
        return {a.id: localized(a.name_th, a.name_en) for a in uow.session.scalars(select(Agency))}


def _referral_table(agencies: dict[int, str], rows: list[tickets.Turnaround]) -> Table:
    headers = [_("หน่วยงาน"), _("ส่งต่อ"), _("ตอบกลับแล้ว"), _("เกินกำหนดยังไม่ตอบ"),
               _("เวลาตอบกลับเฉลี่ย (ชั่วโมง)")]  # fmt: skip
    body = [
        [agencies.get(r.agency_id, str(r.agency_id)), r.sent, r.answered, r.overdue,
         round(r.average_hours, 1) if r.average_hours is not None else None]
        for r in rows
    ]  # fmt: skip
    return Table("referrals", _("ระยะเวลาตอบกลับของหน่วยงาน"), headers, body)


def _centers(rt: Runtime, *, pickable: bool = False) -> list[tuple[int, str]]:
    """(id, name) of centers by code; ``pickable``: the central and provincial ones only."""
    query = select(Center.id, Center.name_th, Center.name_en).order_by(Center.code)
    if pickable:
        query = query.where(Center.kind != CenterKind.DISTRICT)
    with rt.uow() as uow:
        return [(id_, localized(th, en)) for id_, th, en in uow.session.execute(query)]


def _category_names(rt: Runtime) -> dict[Any, str]:
    with rt.uow() as uow:
        return {
            c.id: localized(c.name_th, c.name_en) for c in uow.session.scalars(select(Category))
        }


def _user_names(rt: Runtime, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    with rt.uow() as uow:
        return {
            u.id: u.display_name for u in uow.session.scalars(select(User).where(User.id.in_(ids)))
        }


def _province_names() -> dict[Any, str]:
    return {p.code: localized(p.name_th, p.name_en) for p in geothai.provinces()}


def _status_names() -> dict[Any, str]:
    return {s.value: localized(text.label_th, text.label_en) for s, text in STATUS_TEXT.items()}


def _interval_names() -> list[tuple[str, str]]:
    return [("hour", _("รายชั่วโมง")), ("day", _("รายวัน")), ("week", _("รายสัปดาห์"))]


def _sl_rule_text(rt: Runtime) -> str:
    texts: dict[str, str] = {
        "count_against": _("สายที่วางระหว่างรอนับเป็นสายที่ไม่ได้รับภายในเวลา"),
        "ignore": _("ไม่นับสายที่วางระหว่างรอ"),
        "count_in_sl": _("สายที่วางระหว่างรอภายในเวลาเป้าหมายนับว่าได้ตามเป้า"),
    }
    return texts[rt.settings.metrics_sl_abandons]


def init_metrics(app: Any) -> None:
    app.register_blueprint(bp)


@bp.app_template_filter("pct")
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


@bp.app_template_filter("secs")
def seconds(value: float | None) -> str:
    return "—" if value is None else _("%(s)s วินาที", s=round(value))
