"""From summed counts to the figures a supervisor reads: rates, averages, series, heatmap."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hotline.metrics.accumulate import Sums
from hotline.metrics.facts import FUNNEL_FIELDS, MAX_FIELDS

INTERVALS = ("hour", "day", "week")


def ratio(part: float, whole: float) -> float | None:
    """``part / whole``, or None when there is nothing to divide (shown as a dash)."""
    return part / whole if whole else None


def service_level(counts: Mapping[str, int], abandons_rule: str) -> float | None:
    """Share answered within the threshold; ``abandons_rule`` says how queue abandons count.

    Short abandons never count. ``count_against``: in SL / (answered + abandoned);
    ``ignore``: in SL / answered; ``count_in_sl``: abandons within the threshold count as met.
    """
    answered, abandoned = counts.get("answered", 0), counts.get("abandoned_queue", 0)
    met = counts.get("answered_in_sl", 0)
    if abandons_rule == "ignore":
        return ratio(met, answered)
    if abandons_rule == "count_in_sl":
        met += counts.get("abandoned_in_sl", 0)
    return ratio(met, answered + abandoned)


@dataclass(frozen=True, slots=True)
class CallFigures:
    calls: int
    offered: int
    answered: int
    abandoned_queue: int
    short_abandons: int
    abandoned_ivr: int
    abandon_rate: float | None
    asa_s: float | None
    max_wait_s: int
    service_level: float | None
    aht_s: float | None
    wrap_s: float | None  # the after-call work part of AHT
    occupancy: float | None
    containment: float | None
    repeat_rate: float | None
    csat: float | None
    survey_response_rate: float | None


def occupancy(on_call_s: int, wrap_up_s: int, available_s: int) -> float | None:
    """(talk + wrap-up) / signed-in time, where signed in = available + on a call + wrap-up.

    Away time (breaks, meetings, signed out) is not in the denominator: the standard contact
    centre definition (time on contacts over logged-in ready time), not utilisation.
    """
    busy = on_call_s + wrap_up_s
    return ratio(busy, busy + available_s)


def signed_in_s(counts: Mapping[str, int]) -> int:
    """Agent-seconds signed in (not away), all agents together."""
    return (
        counts.get("agent_available_s", 0)
        + counts.get("agent_on_call_s", 0)
        + counts.get("agent_wrap_up_s", 0)
    )


def call_figures(counts: Mapping[str, int], abandons_rule: str) -> CallFigures:
    c = Counter(counts)
    return CallFigures(
        calls=c["calls"],
        offered=c["offered"],
        answered=c["answered"],
        abandoned_queue=c["abandoned_queue"],
        short_abandons=c["short_abandons"],
        abandoned_ivr=c["abandoned_ivr"],
        abandon_rate=ratio(c["abandoned_queue"], c["answered"] + c["abandoned_queue"]),
        asa_s=ratio(c["answer_wait_s"], c["answered"]),
        max_wait_s=c["max_wait_s"],
        service_level=service_level(c, abandons_rule),
        aht_s=ratio(c["handle_s"], c["handled"]),
        wrap_s=ratio(c["wrap_s"], c["handled"]),
        occupancy=occupancy(c["agent_on_call_s"], c["agent_wrap_up_s"], c["agent_available_s"]),
        containment=ratio(c["contained"], c["calls"]),
        repeat_rate=ratio(c["repeat_calls"], c["known_callers"]),
        csat=ratio(c["survey_satisfied"], c["survey_responses"]),
        survey_response_rate=ratio(c["survey_responses"], c["surveys_offered"]),
    )


def period_start(bucket: datetime, interval: str, tz: ZoneInfo) -> datetime:
    """The local start of the hour, day or (Monday-started) week holding a bucket."""
    local = bucket.astimezone(tz)
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "day":
        return day
    return day - timedelta(days=day.weekday())


def series(sums: Sums, interval: str, tz: ZoneInfo) -> list[tuple[datetime, Counter[str]]]:
    periods: dict[datetime, Counter[str]] = {}
    for bucket, counts in sums.buckets.items():
        target = periods.setdefault(period_start(bucket, interval, tz), Counter())
        for name, value in counts.items():
            target[name] = max(target[name], value) if name in MAX_FIELDS else target[name] + value
    return sorted(periods.items())


def heatmap(sums: Sums) -> list[list[int]]:
    """Calls by local weekday (Monday first) × hour of day."""
    return [[sums.week_hours[day * 24 + hour] for hour in range(24)] for day in range(7)]


def funnel(sums: Sums) -> list[tuple[str, dict[str, int]]]:
    """Per IVR node; the busiest node first."""
    rows = [(node, {f: counts[f] for f in FUNNEL_FIELDS}) for node, counts in sums.funnel.items()]
    return sorted(rows, key=lambda row: (-row[1]["entered"], row[0]))


@dataclass(frozen=True, slots=True)
class AgentFigures:
    handled: int
    aht_s: float | None
    wrap_s: float | None
    occupancy: float | None
    signed_in_s: int


def agents(sums: Sums) -> dict[int, AgentFigures]:
    """agent id → calls handled, AHT and its wrap-up part, occupancy and signed-in time.

    Id 0 gathers answered calls with no agent recorded.
    """
    found = {}
    for agent, c in sums.agents.items():
        busy = c["on_call_s"] + c["wrap_up_s"]
        found[agent] = AgentFigures(
            handled=c["handled"],
            aht_s=ratio(c["handle_s"], c["handled"]),
            wrap_s=ratio(c["wrap_s"], c["handled"]),
            occupancy=occupancy(c["on_call_s"], c["wrap_up_s"], c["available_s"]),
            signed_in_s=busy + c["available_s"],
        )
    return found
