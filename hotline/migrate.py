"""Schema migrations (Alembic) and reference data, run by ``hotline db upgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations
from ticketing.db.base import utcnow
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.holidays import fixed_holidays, save_holidays
from ticketing.seed import ensure_reference_data


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision, then make sure the reference data is there."""
    with database.engine.begin() as connection:
        cfg = alembic_config(database.url)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    ensure_reference_data(UnitOfWork(database))
    this_year = utcnow().year
    for year in (this_year, this_year + 1):
        save_holidays(UnitOfWork(database), fixed_holidays(year))
