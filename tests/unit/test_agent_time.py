"""Agents' time from state changes, and a desk call's wrap-up (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hotline.metrics.accumulate import Sums
from hotline.metrics.agent_time import StateChange, add_spans, spans
from hotline.metrics.facts import CallRow, EventRow, Rules, call_facts

T = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a half-hour boundary


def at(minutes: float) -> datetime:
    return T + timedelta(minutes=minutes)


def test_spans_start_from_the_state_at_the_range_start_and_stop_at_its_end() -> None:
    changes = [StateChange(1, "on_call", at(10)), StateChange(2, "available", at(20)),
               StateChange(1, "away", at(40))]  # fmt: skip
    found = list(spans({1: "available"}, changes, at(5), at(50)))
    assert sorted((s.user_id, s.state, s.start, s.end) for s in found) == [
        (1, "available", at(5), at(10)),
        (1, "away", at(40), at(50)),
        (1, "on_call", at(10), at(40)),
        (2, "available", at(20), at(50)),
    ]


def test_signed_in_time_is_cut_at_half_hours_and_away_is_left_out() -> None:
    sums = Sums()
    found = spans({1: "wrap_up"}, [StateChange(1, "away", at(45))], at(25), at(60))
    add_spans(sums, found)
    assert sums.buckets[at(0)]["agent_wrap_up_s"] == 300
    assert sums.buckets[at(30)]["agent_wrap_up_s"] == 900
    assert sums.agents[1]["wrap_up_s"] == 1200 and sums.agents[1]["available_s"] == 0


def test_fractions_of_seconds_are_floored_so_parts_add_up() -> None:
    half = timedelta(milliseconds=500)
    change = [StateChange(1, "away", at(1) + half)]
    whole, first, second = Sums(), Sums(), Sums()
    add_spans(whole, spans({1: "available"}, change, at(0), at(2)))
    add_spans(first, spans({1: "available"}, [], at(0), at(1)))
    add_spans(second, spans({1: "available"}, change, at(1), at(2)))
    assert whole.agents[1]["available_s"] == 60
    assert first.agents[1]["available_s"] + second.agents[1]["available_s"] == 60


def desk_call(wrapped_up_at: datetime | None) -> tuple[CallRow, list[EventRow]]:
    call = CallRow(1, at(0), at(6), "answered", "completed", "+66811111111", 7, wrapped_up_at)
    events = [EventRow(1, "enqueue", "to_agent", None, at(0), None),
              EventRow(2, "connect", "to_agent", None, at(1), {"wait_s": 60, "agent_id": 7}),
              EventRow(3, "complete", "to_agent", "agent", at(5), {"wait_s": 60})]  # fmt: skip
    return call, events


def test_wrap_up_runs_from_the_wrap_up_state_to_the_form_else_from_the_talks_end() -> None:
    call, events = desk_call(wrapped_up_at=at(7))
    from_state = call_facts(call, events, Rules(), is_repeat=False, wrap_started_at=at(4.5))
    assert (from_state.handle_s, from_state.wrap_s) == (240 + 150, 150)
    from_talk = call_facts(call, events, Rules(), is_repeat=False)
    assert (from_talk.handle_s, from_talk.wrap_s) == (240 + 120, 120)
    call, events = desk_call(wrapped_up_at=None)  # still wrapping up: no wrap-up counted yet
    assert call_facts(call, events, Rules(), is_repeat=False, wrap_started_at=at(5)).wrap_s == 0
