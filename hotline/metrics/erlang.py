"""Erlang C staffing for the hotline: how many agents a forecast call volume needs.

The model is M/M/N (Poisson arrivals, exponential handle times, N agents, FCFS, callers never
hang up). It ignores abandonment, so it overstaffs slightly compared with reality; that bias is
the safe direction for a public hotline. The formulas follow the reference's section 1.11
(R ``ErlangC``, pyworkforce): traffic ``A = calls / interval * AHT``, the probability of waiting
``Pw`` via Erlang B, ``SL(T) = 1 - Pw * exp(-(N - A) * T / AHT)``, ``ASA = Pw * AHT / (N - A)``,
occupancy ``A / N`` and ``scheduled = ceil(N / (1 - shrinkage))``.

Everything here is pure standard-library arithmetic so it can run in the web process, a CLI or
a notebook without pulling in numpy/pandas/ortools.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "Staffing",
    "average_speed_of_answer",
    "occupancy",
    "service_level",
    "staffing",
    "traffic_erlangs",
    "wait_probability",
]

# Scheduled head-count is rounded up, but N / (1 - shrinkage) picks up float noise
# (e.g. 2 / (1 - 0.9) == 20.000000000000004); rounding to this many places first keeps
# exact quotients from being bumped up by one whole agent.
_CEIL_DECIMALS = 9


def _require_finite(name: str, value: float) -> None:
    """Reject NaN and infinities early: they would otherwise slip past every `<` comparison."""
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")


def _require_non_negative(name: str, value: float) -> None:
    """Guard quantities (volumes, traffic, thresholds) where a negative value is meaningless."""
    _require_finite(name, value)
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def _require_positive(name: str, value: float) -> None:
    """Guard durations we divide by (interval, AHT), where zero would be a division by zero."""
    _require_finite(name, value)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")


def _require_agents(agents: int) -> None:
    """Agents are a head-count: a non-negative integer, never a float or a bool."""
    if isinstance(agents, bool) or not isinstance(agents, int):
        raise ValueError(f"agents must be an int, got {agents!r}")
    if agents < 0:
        raise ValueError(f"agents must be >= 0, got {agents!r}")


def _is_stable(agents: int, traffic: float) -> bool:
    """The queue only drains when agents strictly exceed the offered load (N > A)."""
    return agents > traffic


def traffic_erlangs(calls: float, interval_s: float, aht_s: float) -> float:
    """Offered load in Erlangs, A = arrival rate × AHT: the average number of busy agents needed.

    This is the one input Erlang C really cares about; the call count and interval only matter
    through their ratio.
    """
    _require_non_negative("calls", calls)
    _require_positive("interval_s", interval_s)
    _require_positive("aht_s", aht_s)
    return calls / interval_s * aht_s


def _erlang_b_series(traffic: float, start: int = 0) -> Iterator[tuple[int, float]]:
    """Yield (n, Erlang B blocking probability B(n)) for n = start, start + 1, ... forever.

    Uses B(0) = 1, B(n) = A·B(n−1) / (n + A·B(n−1)): every term stays in [0, 1], so unlike
    A^N / N! it never overflows, even for thousands of Erlangs. Yielding successive n lets the
    staffing search extend the recurrence by one step per candidate instead of restarting.
    """
    blocking = 1.0
    for n in range(1, start + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    n = start
    while True:
        yield n, blocking
        n += 1
        blocking = traffic * blocking / (n + traffic * blocking)


def _erlang_c_from_b(agents: int, traffic: float, blocking: float) -> float:
    """Convert Erlang B to Erlang C: Pw = N·B / (N − A·(1 − B)), clamped against rounding."""
    if not _is_stable(agents, traffic):
        return 1.0
    pw = agents * blocking / (agents - traffic * (1.0 - blocking))
    return min(1.0, max(0.0, pw))


def wait_probability(agents: int, traffic: float) -> float:
    """Erlang C: the probability that a caller has to queue at all (Pw).

    Returns 1.0 when agents <= traffic, because then the queue grows without bound and every
    caller eventually waits.
    """
    _require_agents(agents)
    _require_non_negative("traffic", traffic)
    if not _is_stable(agents, traffic):
        return 1.0
    _, blocking = next(_erlang_b_series(traffic, agents))
    return _erlang_c_from_b(agents, traffic, blocking)


def _service_level_from_pw(
    agents: int, traffic: float, aht_s: float, threshold_s: float, pw: float
) -> float:
    """SL(T) = 1 − Pw·exp(−(N−A)·T/AHT); shared so staffing() need not recompute Pw."""
    if not _is_stable(agents, traffic):
        return 0.0
    sl = 1.0 - pw * math.exp(-(agents - traffic) * threshold_s / aht_s)
    return min(1.0, max(0.0, sl))


def service_level(agents: int, traffic: float, aht_s: float, threshold_s: float) -> float:
    """Fraction of calls answered within threshold_s seconds (e.g. the 80/20 target).

    Returns 0.0 when agents <= traffic: an unstable queue eventually misses every target.
    """
    _require_agents(agents)
    _require_non_negative("traffic", traffic)
    _require_positive("aht_s", aht_s)
    _require_non_negative("threshold_s", threshold_s)
    pw = wait_probability(agents, traffic)
    return _service_level_from_pw(agents, traffic, aht_s, threshold_s, pw)


def _asa_from_pw(agents: int, traffic: float, aht_s: float, pw: float) -> float:
    """ASA = Pw·AHT / (N − A); shared so staffing() need not recompute Pw."""
    if not _is_stable(agents, traffic):
        return math.inf
    return pw * aht_s / (agents - traffic)


def average_speed_of_answer(agents: int, traffic: float, aht_s: float) -> float:
    """Mean queue wait in seconds over all calls, including those answered at once.

    Returns math.inf when agents <= traffic, since the expected wait grows without bound.
    """
    _require_agents(agents)
    _require_non_negative("traffic", traffic)
    _require_positive("aht_s", aht_s)
    return _asa_from_pw(agents, traffic, aht_s, wait_probability(agents, traffic))


def occupancy(agents: int, traffic: float) -> float:
    """Share of agents' time spent handling calls, A / N, capped at 1.0.

    Capped because agents cannot be more than fully busy; an overloaded queue shows as 1.0.
    With no agents, occupancy is 1.0 if there is any traffic and 0.0 otherwise.
    """
    _require_agents(agents)
    _require_non_negative("traffic", traffic)
    if agents == 0:
        return 1.0 if traffic > 0 else 0.0
    return min(1.0, traffic / agents)


@dataclass(frozen=True, slots=True)
class Staffing:
    """A staffing recommendation for one interval, with the figures that justify it.

    ``agents`` is the number on the phones; ``scheduled`` adds shrinkage (breaks, training,
    absence) so that ``agents`` are actually available.
    """

    calls: float
    interval_s: float
    aht_s: float
    traffic: float
    agents: int
    scheduled: int
    service_level: float
    asa_s: float
    occupancy: float
    wait_probability: float


def _validate_staffing_targets(
    target_sl: float,
    threshold_s: float,
    shrinkage: float,
    max_occupancy: float,
    max_agents: int,
) -> None:
    """Reject targets that would make the search meaningless or never terminate."""
    _require_finite("target_sl", target_sl)
    if not 0.0 < target_sl < 1.0:
        raise ValueError(f"target_sl must be in (0, 1), got {target_sl!r}")
    _require_non_negative("threshold_s", threshold_s)
    _require_finite("shrinkage", shrinkage)
    if not 0.0 <= shrinkage < 1.0:
        raise ValueError(f"shrinkage must be in [0, 1), got {shrinkage!r}")
    _require_finite("max_occupancy", max_occupancy)
    if not 0.0 < max_occupancy <= 1.0:
        raise ValueError(f"max_occupancy must be in (0, 1], got {max_occupancy!r}")
    if isinstance(max_agents, bool) or not isinstance(max_agents, int) or max_agents < 1:
        raise ValueError(f"max_agents must be an int >= 1, got {max_agents!r}")


def _scheduled(agents: int, shrinkage: float) -> int:
    """Head-count to roster so that `agents` remain after shrinkage: ceil(N / (1 − s))."""
    return math.ceil(round(agents / (1.0 - shrinkage), _CEIL_DECIMALS))


def staffing(
    calls: float,
    interval_s: float,
    aht_s: float,
    *,
    target_sl: float = 0.8,
    threshold_s: float = 20.0,
    shrinkage: float = 0.3,
    max_occupancy: float = 1.0,
    max_agents: int = 10_000,
) -> Staffing:
    """Smallest agent count meeting the service-level target and the occupancy cap.

    The search starts at floor(A) + 1, the first stable head-count (at least 1), and walks up;
    service level rises and occupancy falls with every extra agent, so the first N that passes
    both tests is the minimum. Zero calls need zero agents. Raises ValueError for invalid
    inputs and when no N up to max_agents meets the targets.
    """
    traffic = traffic_erlangs(calls, interval_s, aht_s)
    _validate_staffing_targets(target_sl, threshold_s, shrinkage, max_occupancy, max_agents)
    if traffic == 0.0:
        return Staffing(
            calls=calls,
            interval_s=interval_s,
            aht_s=aht_s,
            traffic=0.0,
            agents=0,
            scheduled=0,
            service_level=1.0,
            asa_s=0.0,
            occupancy=0.0,
            wait_probability=0.0,
        )
    start = max(1, math.floor(traffic) + 1)
    # Checked up front so absurd volumes fail fast instead of running the recurrence to `start`.
    candidates = _erlang_b_series(traffic, start) if start <= max_agents else iter(())
    for agents, blocking in candidates:
        if agents > max_agents:
            break
        pw = _erlang_c_from_b(agents, traffic, blocking)
        sl = _service_level_from_pw(agents, traffic, aht_s, threshold_s, pw)
        occ = occupancy(agents, traffic)
        if sl >= target_sl and occ <= max_occupancy:
            return Staffing(
                calls=calls,
                interval_s=interval_s,
                aht_s=aht_s,
                traffic=traffic,
                agents=agents,
                scheduled=_scheduled(agents, shrinkage),
                service_level=sl,
                asa_s=_asa_from_pw(agents, traffic, aht_s, pw),
                occupancy=occ,
                wait_probability=pw,
            )
    raise ValueError(
        f"no staffing up to max_agents={max_agents} meets target_sl={target_sl} "
        f"and max_occupancy={max_occupancy} for {traffic:.2f} Erlangs"
    )
