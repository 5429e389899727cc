"""Every dashboard table as CSV or XLSX.

XLSX is written with openpyxl (pure Python, MIT, maintained since 2010, reads back what it
writes — which the browser test uses to check a download). CSV carries a UTF-8 byte-order mark
so Excel opens Thai text correctly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass

from openpyxl import Workbook

Cell = str | int | float | None


@dataclass(frozen=True, slots=True)
class Table:
    key: str
    title: str
    headers: Sequence[str]
    rows: Sequence[Sequence[Cell]]


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers)
    writer.writerows(["" if cell is None else cell for cell in row] for row in table.rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(table: Table) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook always has one sheet
    sheet.title = table.key[:31]
    sheet.append(list(table.headers))
    for row in table.rows:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
