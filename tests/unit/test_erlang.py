"""Erlang C staffing: textbook figures, limits, stability and input validation."""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from typing import Any

import pytest

from hotline.metrics.erlang import (
    Staffing,
    average_speed_of_answer,
    occupancy,
    service_level,
    staffing,
    traffic_erlangs,
    wait_probability,
)

# Reference section 1.11 worked check (R ErlangC / pyworkforce READMEs):
# 100 calls per 30 min, AHT 180 s, answer within 20 s, 14 agents.
CALLS = 100
INTERVAL_S = 1800
AHT_S = 180
THRESHOLD_S = 20


def direct_erlang_c(agents: int, traffic: float) -> float:
    """Textbook Erlang C with powers and factorials, only safe for small N."""
    top = traffic**agents / math.factorial(agents) * agents / (agents - traffic)
    bottom = sum(traffic**k / math.factorial(k) for k in range(agents)) + top
    return top / bottom


# --- textbook check -----------------------------------------------------------------------------


def test_textbook_traffic_is_ten_erlangs() -> None:
    assert traffic_erlangs(CALLS, INTERVAL_S, AHT_S) == pytest.approx(10.0)


def test_textbook_figures_for_fourteen_agents() -> None:
    traffic = traffic_erlangs(CALLS, INTERVAL_S, AHT_S)
    assert wait_probability(14, traffic) == pytest.approx(0.1741, abs=5e-5)
    assert service_level(14, traffic, AHT_S, THRESHOLD_S) == pytest.approx(0.8884, abs=5e-5)
    assert average_speed_of_answer(14, traffic, AHT_S) == pytest.approx(7.84, abs=5e-3)
    assert occupancy(14, traffic) == pytest.approx(0.714, abs=5e-4)


def test_textbook_staffing_is_fourteen_agents_twenty_scheduled() -> None:
    result = staffing(
        CALLS, INTERVAL_S, AHT_S, target_sl=0.8, threshold_s=THRESHOLD_S, shrinkage=0.3
    )
    assert result.agents == 14
    assert result.scheduled == 20
    assert result.traffic == pytest.approx(10.0)
    assert result.wait_probability == pytest.approx(0.1741, abs=5e-5)
    assert result.service_level == pytest.approx(0.8884, abs=5e-5)
    assert result.asa_s == pytest.approx(7.84, abs=5e-3)
    assert result.occupancy == pytest.approx(0.714, abs=5e-4)
    assert (result.calls, result.interval_s, result.aht_s) == (CALLS, INTERVAL_S, AHT_S)


def test_textbook_thirteen_agents_miss_the_target() -> None:
    # Proves 14 is the minimum, not merely sufficient.
    assert service_level(13, 10.0, AHT_S, THRESHOLD_S) < 0.8


def test_staffing_fields_agree_with_the_public_functions() -> None:
    result = staffing(CALLS, INTERVAL_S, AHT_S)
    n, a = result.agents, result.traffic
    assert result.wait_probability == pytest.approx(wait_probability(n, a), rel=1e-12)
    assert result.service_level == pytest.approx(service_level(n, a, AHT_S, THRESHOLD_S), rel=1e-12)
    assert result.asa_s == pytest.approx(average_speed_of_answer(n, a, AHT_S), rel=1e-12)
    assert result.occupancy == pytest.approx(occupancy(n, a), rel=1e-12)


def test_staffing_is_frozen() -> None:
    result = staffing(CALLS, INTERVAL_S, AHT_S)
    assert isinstance(result, Staffing)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.agents = 1  # type: ignore[misc]


# --- cross-check against the factorial formula --------------------------------------------------


@pytest.mark.parametrize("agents", range(1, 31))
@pytest.mark.parametrize("load_factor", [0.01, 0.25, 0.5, 0.8, 0.95, 0.999])
def test_wait_probability_matches_direct_formula(agents: int, load_factor: float) -> None:
    traffic = agents * load_factor
    expected = direct_erlang_c(agents, traffic)
    assert wait_probability(agents, traffic) == pytest.approx(expected, rel=1e-9, abs=1e-9)


# --- monotonicity -------------------------------------------------------------------------------


def test_more_agents_raise_service_level_and_cut_waiting() -> None:
    traffic = 10.0
    agents = range(11, 41)
    pws = [wait_probability(n, traffic) for n in agents]
    sls = [service_level(n, traffic, AHT_S, THRESHOLD_S) for n in agents]
    asas = [average_speed_of_answer(n, traffic, AHT_S) for n in agents]
    occs = [occupancy(n, traffic) for n in agents]
    assert all(a > b for a, b in itertools.pairwise(pws))
    assert all(a <= b for a, b in itertools.pairwise(sls))
    assert sls[0] < sls[-1]
    assert all(a > b for a, b in itertools.pairwise(asas))
    assert all(a > b for a, b in itertools.pairwise(occs))


def test_longer_threshold_raises_service_level() -> None:
    sls = [service_level(12, 10.0, AHT_S, t) for t in (0, 10, 20, 60, 300)]
    assert all(a < b for a, b in itertools.pairwise(sls))
    # With a zero threshold only callers who never queue count: SL = 1 − Pw.
    assert sls[0] == pytest.approx(1 - wait_probability(12, 10.0))


def test_stricter_target_needs_more_agents() -> None:
    counts = [staffing(CALLS, INTERVAL_S, AHT_S, target_sl=t).agents for t in (0.5, 0.8, 0.95)]
    assert counts == sorted(counts)
    assert counts[0] < counts[-1]


# --- unstable queues ----------------------------------------------------------------------------


@pytest.mark.parametrize(("agents", "traffic"), [(10, 10.0), (9, 10.0), (0, 3.0), (1, 1.0)])
def test_unstable_queue(agents: int, traffic: float) -> None:
    assert wait_probability(agents, traffic) == 1.0
    assert service_level(agents, traffic, AHT_S, THRESHOLD_S) == 0.0
    assert average_speed_of_answer(agents, traffic, AHT_S) == math.inf
    assert occupancy(agents, traffic) == 1.0


def test_just_above_traffic_is_stable_but_poor() -> None:
    pw = wait_probability(11, 10.999)
    assert 0.99 < pw < 1.0
    assert math.isfinite(average_speed_of_answer(11, 10.999, AHT_S))


def test_staffing_starts_at_first_stable_count_for_fractional_traffic() -> None:
    # A = 10.5: N = 11 is stable and must be considered (ceil(A) + 1 = 12 would skip it).
    calls = 10.5 * INTERVAL_S / AHT_S
    result = staffing(calls, INTERVAL_S, AHT_S, target_sl=0.01, threshold_s=0)
    assert result.traffic == pytest.approx(10.5)
    assert result.agents == 11


# --- zero volume --------------------------------------------------------------------------------


def test_zero_calls_need_zero_agents() -> None:
    result = staffing(0, INTERVAL_S, AHT_S)
    assert result.traffic == 0.0
    assert result.agents == 0
    assert result.scheduled == 0
    assert result.service_level == 1.0
    assert result.asa_s == 0.0
    assert result.occupancy == 0.0
    assert result.wait_probability == 0.0


def test_zero_traffic_with_agents() -> None:
    assert traffic_erlangs(0, INTERVAL_S, AHT_S) == 0.0
    assert wait_probability(1, 0.0) == 0.0
    assert service_level(1, 0.0, AHT_S, THRESHOLD_S) == 1.0
    assert average_speed_of_answer(1, 0.0, AHT_S) == 0.0
    assert occupancy(1, 0.0) == 0.0
    assert occupancy(0, 0.0) == 0.0


def test_tiny_volume_needs_one_agent() -> None:
    result = staffing(1, INTERVAL_S, AHT_S)
    assert result.agents == 1
    assert result.scheduled == 2  # ceil(1 / 0.7)


# --- shrinkage, occupancy cap and search limits -------------------------------------------------


@pytest.mark.parametrize(("shrinkage", "scheduled"), [(0.0, 14), (0.3, 20), (0.5, 28), (0.9, 140)])
def test_scheduled_adds_shrinkage(shrinkage: float, scheduled: int) -> None:
    result = staffing(CALLS, INTERVAL_S, AHT_S, shrinkage=shrinkage)
    assert result.agents == 14
    assert result.scheduled == scheduled


def test_scheduled_ignores_float_noise() -> None:
    # 2 / (1 − 0.9) is 20.000000000000004 in floating point; it must still schedule 20.
    result = staffing(1, INTERVAL_S, AHT_S, target_sl=0.99, shrinkage=0.9)
    assert result.agents == 2
    assert result.scheduled == 20


def test_max_occupancy_can_force_more_agents() -> None:
    unconstrained = staffing(CALLS, INTERVAL_S, AHT_S)
    capped = staffing(CALLS, INTERVAL_S, AHT_S, max_occupancy=0.5)
    assert capped.agents == 20  # first N with 10 / N <= 0.5
    assert capped.agents > unconstrained.agents
    assert capped.occupancy <= 0.5


def test_no_solution_within_max_agents() -> None:
    with pytest.raises(ValueError, match="max_agents"):
        staffing(CALLS, INTERVAL_S, AHT_S, max_agents=13)
    # Traffic far beyond the cap fails fast instead of running the recurrence to ~1e12.
    started = time.perf_counter()
    with pytest.raises(ValueError, match="max_agents"):
        staffing(1e12, INTERVAL_S, AHT_S)
    assert time.perf_counter() - started < 1.0


def test_max_agents_exactly_enough() -> None:
    assert staffing(CALLS, INTERVAL_S, AHT_S, max_agents=14).agents == 14


# --- large traffic ------------------------------------------------------------------------------


def test_large_traffic_stays_finite() -> None:
    traffic = 2000.0
    pw = wait_probability(2100, traffic)
    assert 0.0 < pw < 1.0
    assert math.isfinite(pw)
    sl = service_level(2100, traffic, AHT_S, THRESHOLD_S)
    assert 0.0 < sl <= 1.0
    assert math.isfinite(average_speed_of_answer(2100, traffic, AHT_S))


def test_large_traffic_staffing_is_fast() -> None:
    calls = 2000 * INTERVAL_S / AHT_S  # 2000 Erlangs
    started = time.perf_counter()
    result = staffing(calls, INTERVAL_S, AHT_S)
    elapsed = time.perf_counter() - started
    assert result.traffic == pytest.approx(2000.0)
    assert 2000 < result.agents < 2100
    assert result.service_level >= 0.8
    assert service_level(result.agents - 1, 2000.0, AHT_S, THRESHOLD_S) < 0.8
    assert all(
        math.isfinite(x)
        for x in (result.wait_probability, result.service_level, result.asa_s, result.occupancy)
    )
    assert elapsed < 2.0  # generous: the incremental recurrence takes well under 10 ms


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"calls": -1}, "calls"),
        ({"calls": math.nan}, "calls"),
        ({"calls": math.inf}, "calls"),
        ({"interval_s": 0}, "interval_s"),
        ({"interval_s": -1800}, "interval_s"),
        ({"aht_s": 0}, "aht_s"),
        ({"aht_s": -180}, "aht_s"),
        ({"target_sl": 0.0}, "target_sl"),
        ({"target_sl": 1.0}, "target_sl"),
        ({"target_sl": 1.5}, "target_sl"),
        ({"target_sl": -0.2}, "target_sl"),
        ({"target_sl": math.nan}, "target_sl"),
        ({"shrinkage": 1.0}, "shrinkage"),
        ({"shrinkage": -0.1}, "shrinkage"),
        ({"shrinkage": math.nan}, "shrinkage"),
        ({"threshold_s": -1}, "threshold_s"),
        ({"max_occupancy": 0.0}, "max_occupancy"),
        ({"max_occupancy": 1.1}, "max_occupancy"),
        ({"max_agents": 0}, "max_agents"),
    ],
)
def test_staffing_rejects_invalid_inputs(kwargs: dict[str, Any], argument: str) -> None:
    args: dict[str, Any] = {"calls": CALLS, "interval_s": INTERVAL_S, "aht_s": AHT_S}
    args.update(kwargs)
    with pytest.raises(ValueError, match=argument):
        staffing(**args)


@pytest.mark.parametrize(
    ("calls", "interval_s", "aht_s", "argument"),
    [(-1, 1800, 180, "calls"), (100, 0, 180, "interval_s"), (100, 1800, 0, "aht_s")],
)
def test_traffic_rejects_invalid_inputs(
    calls: float, interval_s: float, aht_s: float, argument: str
) -> None:
    with pytest.raises(ValueError, match=argument):
        traffic_erlangs(calls, interval_s, aht_s)


def test_queue_functions_reject_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="agents"):
        wait_probability(-1, 10.0)
    with pytest.raises(ValueError, match="agents"):
        wait_probability(14.0, 10.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="traffic"):
        wait_probability(14, -1.0)
    with pytest.raises(ValueError, match="traffic"):
        occupancy(14, math.nan)
    with pytest.raises(ValueError, match="aht_s"):
        service_level(14, 10.0, 0, THRESHOLD_S)
    with pytest.raises(ValueError, match="threshold_s"):
        service_level(14, 10.0, AHT_S, -5)
    with pytest.raises(ValueError, match="aht_s"):
        average_speed_of_answer(14, 10.0, -1)
