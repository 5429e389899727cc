from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from hotline.cli import main
from ticketing.errors import ValidationError
from ticketing.holidays import fixed_holidays, read_csv


def test_fixed_holidays_of_a_year() -> None:
    days = {row.day for row in fixed_holidays(2027)}
    assert date(2027, 4, 13) in days and date(2027, 12, 5) in days and len(days) == 15


def test_a_bad_csv_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_text("date,name_th,name_en\n2026-05-31,วันวิสาขบูชา,Visakha Bucha\n31/05/2026,x,y\n")
    with pytest.raises(ValidationError, match="line 3"):
        read_csv(path)


def test_import_and_list_from_the_command_line(tmp_path: Path) -> None:
    runner = CliRunner(env={"INSTANCE_DIR": str(tmp_path), "DATABASE_URL": "", "REDIS_URL": ""})
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    path = tmp_path / "lunar.csv"
    path.write_text("2026-05-31,วันวิสาขบูชา,Visakha Bucha Day\n2026-01-01,วันขึ้นปีใหม่,New Year's Day\n")
    imported = runner.invoke(main, ["holidays", "import", str(path)])
    assert imported.exit_code == 0 and "1 new holiday(s), 1 updated" in imported.output
    listed = runner.invoke(main, ["holidays", "list", "--year", "2026"])
    assert "2026-05-31  วันวิสาขบูชา" in listed.output and "2026-12-10" in listed.output
