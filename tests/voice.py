"""Fixtures for voice tests: the app on a real database, a fixed clock, a signed phone."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from flask import Flask
from sqlalchemy import func, select

from config import Settings
from hotline import create_app
from hotline.background.jobs import InlineJobs
from hotline.calls.models import Call, CallEvent
from hotline.demo.phone import Exchange, PhoneSimulator
from hotline.runtime import runtime
from tests.conftest import service_missing
from tests.twilio_client import FlaskTransport
from tests.twilio_standin import TwilioStandIn
from tests.webhooks.twiml_check import check_exchange
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

BASE_URL = "https://hotline.example.go.th"
AUTH_TOKEN = "test-auth-token-1567"
ACCOUNT = "AC" + "0" * 32
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Nothing listens here unless a test starts the Twilio stand-in: fetches fail fast, offline.
TWILIO_STANDIN = "http://127.0.0.1:9"
# Tuesday 24 November 2026, 10:00 in Bangkok: inside office hours.
OFFICE_HOURS = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 24, 15, 0, tzinfo=UTC)  # 22:00 in Bangkok


def settings_for(database: Database, tmp_path: Path, **changes: object) -> Settings:
    return Settings(
        instance_dir=tmp_path,
        database_url=database.url,
        public_base_url=BASE_URL,
        twilio_auth_token=AUTH_TOKEN,
        twilio_api_base_url=TWILIO_STANDIN,
    ).replace(**changes)


@pytest.fixture
def make_app(database: Database, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Apps on the test database, at office hours; their connection pools closed afterwards."""
    apps: list[Flask] = []

    def make(**changes: object) -> Flask:
        app = create_app(settings_for(database, tmp_path, **changes))
        runtime(app).clock = lambda: OFFICE_HOURS
        apps.append(app)
        return app

    yield make
    for app in apps:
        rt = runtime(app)
        if isinstance(rt.jobs, InlineJobs):
            rt.jobs.join()  # background jobs finish before their database goes away
        rt.db.dispose()


@pytest.fixture
def voice_app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def make_phone(voice_app: Flask) -> Callable[..., PhoneSimulator]:
    def make(caller: str = "+66812345678", check: bool = True) -> PhoneSimulator:
        checker: Callable[[Exchange], None] | None = None
        if check:

            def checker(exchange: Exchange) -> None:
                check_exchange(voice_app, exchange, BASE_URL)

        return PhoneSimulator(
            FlaskTransport(voice_app.test_client()),
            base_url=BASE_URL,
            auth_token=AUTH_TOKEN,
            caller=caller,
            media_base_url=TWILIO_STANDIN,
            check=checker,
        )

    return make


@pytest.fixture
def phone(make_phone: Callable[..., PhoneSimulator]) -> PhoneSimulator:
    result: PhoneSimulator = make_phone()
    return result


def call_row(db: Database, call_sid: str) -> Call:
    with UnitOfWork(db) as uow:
        call = uow.session.scalars(select(Call).where(Call.call_sid == call_sid)).one()
        return call


def event_kinds(db: Database, call_sid: str) -> list[tuple[str, str | None, str | None]]:
    with UnitOfWork(db) as uow:
        rows = uow.session.execute(
            select(CallEvent.kind, CallEvent.node, CallEvent.value)
            .join(Call, Call.id == CallEvent.call_id)
            .where(Call.call_sid == call_sid)
            .order_by(CallEvent.id)
        ).all()
    return [(r.kind, r.node, r.value) for r in rows]


def count(db: Database, model: type) -> int:
    with UnitOfWork(db) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    """Redis database 15, emptied before and after the test."""
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def standin() -> Iterator[TwilioStandIn]:
    """A local stand-in for Twilio's REST API and media, with the test account's credentials."""
    server = TwilioStandIn(ACCOUNT, AUTH_TOKEN).start()
    yield server
    server.stop()


@pytest.fixture
def provincial_flow(tmp_path: Path) -> Path:
    """The bundled flow with a provincial center's office hours: the national line has none
    (it is answered around the clock), so after-hours calls are tested on this one."""
    from ivr_flows.loader import flow_path

    text = flow_path("1567").read_text(encoding="utf-8")
    hours = 'hours: {days: [mon, tue, wed, thu, fri], open: "08:30", close: "16:30"}\n'
    path = tmp_path / "provincial.yaml"
    path.write_text(text.replace("max_failures: 2\n", "max_failures: 2\n" + hours), "utf-8")
    return path


@pytest.fixture
def night_app(make_app: Callable[..., Flask], provincial_flow: Path) -> Flask:
    """A provincial center's IVR at 22:00 on a Tuesday: no agent on shift."""
    app = make_app(ivr_flow=str(provincial_flow))
    runtime(app).clock = lambda: NIGHT
    return app


@pytest.fixture
def night_phone(night_app: Flask) -> PhoneSimulator:
    def checker(exchange: Exchange) -> None:
        check_exchange(night_app, exchange, BASE_URL)

    return PhoneSimulator(FlaskTransport(night_app.test_client()), base_url=BASE_URL,
                          auth_token=AUTH_TOKEN, caller="+66812345678",
                          media_base_url=TWILIO_STANDIN, check=checker)  # fmt: skip
