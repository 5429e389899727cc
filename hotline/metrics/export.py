"""Every dashboard table as CSV or XLSX.

XLSX is written with openpyxl (pure Python, MIT, maintained since 2010, reads back what it
writes — which the browser test uses to check a download). CSV carries a UTF-8 byte-order mark
so Excel opens Thai text correctly.

Dates go out as ISO 8601 (2026-11-09, 2026-11-09T10:00+07:00), which every spreadsheet reads the
same way, never as the page's "9/11/2569"; XLSX gets real date cells. A text cell that a
spreadsheet would run as a formula (it starts with = + - @, a tab or a carriage return) is
prefixed with an apostrophe, as OWASP's CSV-injection advice says.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import Workbook

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class When:
    """A period's start: the page shows ``shown`` (in the reader's calendar), files get ISO."""

    start: datetime
    hourly: bool
    shown: str

    def __str__(self) -> str:
        return self.shown

    def iso(self) -> str:
        if self.hourly:
            return self.start.isoformat(timespec="minutes")
        return self.start.date().isoformat()


Cell = str | int | float | When | None


@dataclass(frozen=True, slots=True)
class Table:
    key: str
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_text(str(header)) for header in table.headers])
    writer.writerows([_csv_cell(cell) for cell in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def safe_text(text: str) -> str:
    """Text a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_cell(cell: Cell) -> str | int | float:
    if cell is None:
        return ""
    if isinstance(cell, When):
        return cell.iso()
    return safe_text(cell) if isinstance(cell, str) else cell


def _xlsx_cell(cell: Cell) -> str | int | float | date | datetime | None:
    if isinstance(cell, When):
        return cell.start.replace(tzinfo=None) if cell.hourly else cell.start.date()
    return safe_text(cell) if isinstance(cell, str) else cell


def to_xlsx(table: Table) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook always has one sheet
    sheet.title = table.key[:31]
    sheet.append([safe_text(str(header)) for header in table.headers])
    for row in table.rows:
        sheet.append([_xlsx_cell(cell) for cell in row])
    for column in sheet.iter_cols(min_row=2):
        for cell in column:
            if isinstance(cell.value, datetime):
                cell.number_format = "yyyy-mm-dd hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "yyyy-mm-dd"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
