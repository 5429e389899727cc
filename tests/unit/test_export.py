"""Exports: ISO dates and cells a spreadsheet never runs as formulas (OWASP CSV injection)."""

from __future__ import annotations

import io
from datetime import date, datetime, timedelta, timezone

from openpyxl import load_workbook

from hotline.metrics.export import Table, When, to_csv, to_xlsx

BANGKOK = timezone(timedelta(hours=7))
START = datetime(2026, 11, 9, 10, 0, tzinfo=BANGKOK)
HOSTILE = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def table() -> Table:
    rows = [[When(START, True, "9/11/2569 10:00"), text, -3] for text in HOSTILE]
    rows.append([When(START, False, "9/11/2569"), "น้ำประปาไม่ไหล", 4.5])
    return Table("calls", "สายเข้า", ["ช่วงเวลา", "=ข้อความ", "จำนวน"], rows)


def test_csv_dates_are_iso_and_formulas_are_text() -> None:
    lines = to_csv(table()).decode("utf-8-sig").splitlines()
    assert lines[0] == "ช่วงเวลา,'=ข้อความ,จำนวน"
    assert lines[1].startswith("2026-11-09T10:00+07:00,")
    assert lines[-1] == "2026-11-09,น้ำประปาไม่ไหล,4.5"
    cells = [line.split(",")[1] for line in lines[1:4]]
    assert all(cell.lstrip('"').startswith("'") for cell in cells), cells
    assert lines[3].endswith(",-3"), "numbers stay numbers, negative ones too"


def test_xlsx_has_date_cells_and_no_formulas() -> None:
    sheet = load_workbook(io.BytesIO(to_xlsx(table()))).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    hour, day = rows[1][0], rows[-1][0]
    assert isinstance(hour, datetime) and hour.isoformat() == "2026-11-09T10:00:00"
    assert isinstance(day, date) and day.isoformat().startswith("2026-11-09")
    for row in rows[1:-1]:
        assert isinstance(row[1], str) and row[1].startswith("'"), row
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_the_page_shows_the_readers_label() -> None:
    assert str(When(START, False, "9/11/2569")) == "9/11/2569"
