"""The LINE tables the migration makes are the ones the models declare (both databases)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from hotline.models import metadata
from ticketing.db.engine import Database


def test_the_line_migration_matches_the_models(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    line = [d for d in diff if "line_" in repr(d)]
    assert line == []
