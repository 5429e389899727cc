"""Deadlines in business days: weekends and Thai public holidays do not count.

Days are counted on the Asia/Bangkok calendar (a complaint filed at 23:30 Bangkok time on a
Friday is a Friday complaint), and a deadline falls at the end of its business day.
"""

from __future__ import annotations

from collections.abc import Container
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

SATURDAY = 5


def is_business_day(day: date, holidays: Container[date]) -> bool:
    return day.weekday() < SATURDAY and day not in holidays


def add_business_days(start: date, days: int, holidays: Container[date]) -> date:
    """The date ``days`` business days after ``start`` (``start`` itself does not count)."""
    if days < 0:
        raise ValueError("days must not be negative")
    current = start
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_business_day(current, holidays):
            remaining -= 1
    return current


def due_at(opened_at: datetime, days: int, holidays: Container[date], tz: ZoneInfo) -> datetime:
    """The deadline as an aware datetime: the end (23:59:59) of the last business day, local."""
    if opened_at.tzinfo is None:
        raise ValueError("opened_at must be timezone-aware")
    local_day = opened_at.astimezone(tz).date()
    last_day = add_business_days(local_day, days, holidays)
    return datetime.combine(last_day, time(23, 59, 59), tzinfo=tz)
