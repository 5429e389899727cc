"""Shared fixtures: real SQLite and PostgreSQL databases, migrated once, isolated per test.

PostgreSQL comes from TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1/test). When it
is unreachable the PostgreSQL variants are skipped with the reason, except under
REQUIRE_SERVICES=1 (CI), where a missing service fails the run.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from hotline.migrate import upgrade
from hotline.models import metadata
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

pytest_plugins = ["tests.voice"]

PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1/test")
REQUIRE_SERVICES = os.environ.get("REQUIRE_SERVICES") == "1"
REFERENCE_TABLES = {"categories", "centers", "holidays", "alembic_version"}


def free_port() -> int:
    """A TCP port nothing listens on right now, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def service_missing(what: str, why: object) -> None:
    message = f"{what} is not reachable ({why})"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message}; REQUIRE_SERVICES=1 makes this a failure")
    pytest.skip(message)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    db = Database.connect(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[Database]:
    db = Database.connect(PG_URL)
    try:
        db.ping()
    except OperationalError as exc:
        db.dispose()
        service_missing("PostgreSQL", str(exc).splitlines()[0])
    with db.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    upgrade(db)
    yield db
    db.dispose()


def truncate_all(db: Database) -> None:
    tables = [t.name for t in metadata.sorted_tables if t.name not in REFERENCE_TABLES]
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database with reference data: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "hotline.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        db = Database.connect(f"sqlite:///{path}")
        yield db
        db.dispose()
        return
    db = request.getfixturevalue("pg_database")
    truncate_all(db)
    yield db
    truncate_all(db)


@pytest.fixture
def uow(database: Database) -> UnitOfWork:
    return UnitOfWork(database)
