from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from ticketing.sla import add_business_days, due_at, is_business_day

BANGKOK = ZoneInfo("Asia/Bangkok")


def test_weekends_and_holidays_do_not_count() -> None:
    friday = date(2026, 12, 4)
    assert add_business_days(friday, 1, set()) == date(2026, 12, 7)  # Monday
    # Monday 7 Dec is a working day, but make the Monday a holiday:
    assert add_business_days(friday, 1, {date(2026, 12, 7)}) == date(2026, 12, 8)
    assert add_business_days(friday, 0, set()) == friday
    assert not is_business_day(date(2026, 12, 5), set())


def test_fifteen_business_days_is_three_weeks() -> None:
    monday = date(2026, 11, 23)
    assert add_business_days(monday, 15, set()) == date(2026, 12, 14)


def test_due_at_uses_the_bangkok_calendar_day() -> None:
    # 17:30 UTC Friday is 00:30 Saturday in Bangkok: the clock starts from Saturday.
    opened = datetime(2026, 12, 4, 17, 30, tzinfo=UTC)
    deadline = due_at(opened, 1, set(), BANGKOK)
    assert deadline.date() == date(2026, 12, 7)
    assert deadline.tzinfo is not None and deadline.hour == 23


def test_naive_and_negative_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        due_at(datetime(2026, 1, 1), 1, set(), BANGKOK)  # noqa: DTZ001
    with pytest.raises(ValueError, match="negative"):
        add_business_days(date(2026, 1, 1), -1, set())


def test_reminders_start_business_days_before_the_due_day() -> None:
    from ticketing.deadlines import reminder_time

    tz = ZoneInfo("Asia/Bangkok")
    due = datetime(2026, 11, 30, 23, 59, 59, tzinfo=tz)  # a Monday
    assert reminder_time(due, 2, set(), tz) == datetime(2026, 11, 26, 0, 0, tzinfo=tz)  # Thu
    assert reminder_time(due, 2, {date(2026, 11, 27)}, tz) == datetime(2026, 11, 25, tzinfo=tz)
