"""Public holidays: business hours in the IVR and business-day deadlines depend on them.

The list is data, per year. The solar-calendar holidays are fixed and seeded here; the Buddhist
holidays (Makha, Visakha, Asarnha Bucha, Khao Phansa) follow the lunar calendar and substitute
days are announced by the cabinet each year, so operators import those from the official
announcement with ``hotline holidays import FILE.csv`` (date,name_th,name_en).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select

from ticketing.db.uow import UnitOfWork
from ticketing.errors import ValidationError
from ticketing.models import Holiday
from ticketing.reference import forget

# (month, day, Thai, English): holidays on the same solar date every year.
FIXED = (
    (1, 1, "วันขึ้นปีใหม่", "New Year's Day"),
    (4, 6, "วันจักรี", "Chakri Memorial Day"),
    (4, 13, "วันสงกรานต์", "Songkran Festival"),
    (4, 14, "วันสงกรานต์", "Songkran Festival"),
    (4, 15, "วันสงกรานต์", "Songkran Festival"),
    (5, 1, "วันแรงงานแห่งชาติ", "National Labour Day"),
    (5, 4, "วันฉัตรมงคล", "Coronation Day"),
    (6, 3, "วันเฉลิมพระชนมพรรษาสมเด็จพระราชินี", "Queen Suthida's Birthday"),
    (7, 28, "วันเฉลิมพระชนมพรรษาพระบาทสมเด็จพระเจ้าอยู่หัว", "King's Birthday"),
    (8, 12, "วันแม่แห่งชาติ", "Mother's Day"),
    (10, 13, "วันนวมินทรมหาราช", "King Bhumibol Memorial Day"),
    (10, 23, "วันปิยมหาราช", "Chulalongkorn Day"),
    (12, 5, "วันพ่อแห่งชาติ", "Father's Day"),
    (12, 10, "วันรัฐธรรมนูญ", "Constitution Day"),
    (12, 31, "วันสิ้นปี", "New Year's Eve"),
)


@dataclass(frozen=True, slots=True)
class HolidayRow:
    day: date
    name_th: str
    name_en: str


def fixed_holidays(year: int) -> list[HolidayRow]:
    return [HolidayRow(date(year, m, d), th, en) for m, d, th, en in FIXED]


def read_csv(path: Path) -> list[HolidayRow]:
    """Rows of ``date,name_th,name_en`` (ISO dates); raises ValidationError naming the line."""
    rows = []
    with path.open(encoding="utf-8", newline="") as handle:
        for number, record in enumerate(csv.reader(handle), start=1):
            if not record or record[0].strip().lower() in ("date", ""):
                continue
            if len(record) != 3:
                raise ValidationError(f"line {number}: expected date,name_th,name_en", field="file")
            try:
                day = date.fromisoformat(record[0].strip())
            except ValueError:
                raise ValidationError(f"line {number}: {record[0]!r} is not a date like 2026-05-31",
                                      field="file") from None  # fmt: skip
            rows.append(HolidayRow(day, record[1].strip(), record[2].strip()))
    return rows


def save_holidays(uow: UnitOfWork, rows: Iterable[HolidayRow]) -> int:
    """Add or rename holidays (idempotent); returns how many were new."""
    added = 0
    with uow:
        existing = {h.day: h for h in uow.session.scalars(select(Holiday))}
        for row in rows:
            holiday = existing.get(row.day)
            if holiday is None:
                holiday = Holiday(day=row.day)
                added += 1
            holiday.name_th, holiday.name_en = row.name_th, row.name_en
            uow.session.add(holiday)
            existing[row.day] = holiday
        uow.commit()
    forget(uow)
    return added
