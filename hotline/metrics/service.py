"""The metrics use cases the web tier and the worker call: refresh rollups, build a dashboard."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from config import Settings
from hotline.metrics import figures
from hotline.metrics.accumulate import Sums
from hotline.metrics.facts import Rules
from hotline.metrics.rollup import RefreshReport, read_sums, refresh
from hotline.runtime import Runtime, runtime
from ivr_flows.loader import load_flow
from ticketing.db.uow import JobRequest

log = logging.getLogger(__name__)
MAX_RANGE_DAYS = 731
REFRESH_EVERY_S = 60.0  # as the worker's round
REFRESH_JOB = JobRequest("hotline.metrics.service.refresh_job", job_id="metrics-refresh")
# One refresh at a time per process; across processes the worker holds a Redis lock.
_refresh_lock = threading.Lock()


class MetricsInputError(ValueError):
    """A dashboard filter that cannot be used (shown to the user as a 400)."""


def rules_for(settings: Settings) -> Rules:
    flow = load_flow(settings.ivr_flow)
    surveys = frozenset(node_id for node_id, node in flow.nodes.items() if node.kind == "survey")
    return Rules(
        service_level_s=settings.metrics_service_level_s,
        short_abandon_s=settings.metrics_short_abandon_s,
        survey_nodes=surveys,
    )


def refresh_rollups(
    rt: Runtime,
    progress: Callable[[int, int], None] | None = None,
    *,
    wait: bool = True,
    rebuild: bool = False,
) -> RefreshReport:
    with _refresh_lock:
        return refresh(rt.db, rules_for(rt.settings), rt.settings.tz, rt.clock(), progress,
                       wait=wait, rebuild=rebuild)  # fmt: skip


def refresh_job() -> None:
    """The embedded mode's minutely refresh, run as an inline job (see :class:`RollupKeeper`)."""
    refresh_rollups(runtime(), wait=False)


class RollupKeeper(threading.Thread):
    """The embedded mode's stand-in for the worker's minutely round.

    With no Redis there is no worker, and pages never write, so ``hotline run`` starts this
    thread: at start and every ``REFRESH_EVERY_S`` it hands a refresh to the inline jobs, which
    run it after whatever they are doing (SQLite has one writer at a time anyway). Figures are
    never late for it: pages add the calls not rolled up yet from the live tail.
    """

    def __init__(self, rt: Runtime, interval_s: float = REFRESH_EVERY_S) -> None:
        super().__init__(name="metrics-rollups", daemon=True)
        self._rt = rt
        self._interval = interval_s
        self._stop_event = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self._rt.jobs.dispatch(REFRESH_JOB)
            except Exception:
                log.exception("metrics rollup: could not start a refresh")
            if self._stop_event.wait(self._interval):
                return

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=5)


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates ``first``..``last`` (inclusive), as UTC instants [start, end)."""

    first: date
    last: date
    start: datetime
    end: datetime

    @classmethod
    def of(cls, first: date, last: date, tz: ZoneInfo) -> Period:
        if last < first:
            raise MetricsInputError(_("วันที่สิ้นสุดต้องไม่ก่อนวันที่เริ่มต้น"))
        if (last - first).days >= MAX_RANGE_DAYS:
            raise MetricsInputError(_("ช่วงวันที่ยาวเกิน 2 ปี"))
        start = datetime.combine(first, time(), tz)
        end = datetime.combine(last + timedelta(days=1), time(), tz)
        return cls(first, last, start, end)


def parse_date(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise MetricsInputError(_("วันที่ไม่ถูกต้อง: %(value)s", value=value)) from exc


def call_sums(rt: Runtime, period: Period, *, by_day: bool = False) -> Sums:
    with rt.uow() as uow:
        return read_sums(
            uow.session,
            period.start,
            period.end,
            rules_for(rt.settings),
            rt.settings.tz,
            now=rt.clock(),
            by_day=by_day,
        )


def today(rt: Runtime) -> date:
    return rt.clock().astimezone(rt.settings.tz).date()


def call_figures(rt: Runtime, sums: Sums) -> figures.CallFigures:
    return figures.call_figures(sums.totals(), rt.settings.metrics_sl_abandons)
