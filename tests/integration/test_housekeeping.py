"""ISSUE #18, item 2: one scheduled task failing never stops the others, and one failing round
after round is an ERROR with its name and shows on /readyz."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask

import hotline.background.worker as worker
from config.redis_keys import HOUSEKEEPING_FAILURES
from hotline.background.worker import FAILING_AFTER_ROUNDS, Housekeeper
from recordings.models import Recording
from tests.twilio_standin import TwilioStandIn
from tests.voice import REDIS_URL
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork


@pytest.fixture
def worker_app(
    make_app: Callable[..., Flask], redis_client: redis.Redis, standin: TwilioStandIn
) -> Flask:
    return make_app(redis_url=REDIS_URL, recording_retention_days=30,
                    twilio_api_base_url=standin.base_url)  # fmt: skip


def all_due(client: redis.Redis) -> None:
    """Every task due this round (as if its period had passed)."""
    for key in client.scan_iter("hotline:lock:*"):
        client.delete(key)


def a_malformed_recording_from_before_the_edge_check(database: Database) -> None:
    """``RE../../x``, pending for an hour: the sweep trips on it every round."""
    with UnitOfWork(database) as uow:
        uow.session.add(Recording(sid="RE../../x", call_sid="CA" + "1" * 32, state="pending",
                                  created_at=datetime.now(UTC) - timedelta(hours=1)))  # fmt: skip
        uow.commit()


def test_a_failing_sweep_stops_no_other_task_and_shows_on_readyz(
    worker_app: Flask,
    database: Database,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a_malformed_recording_from_before_the_edge_check(database)
    ran: list[str] = []
    monkeypatch.setattr(worker, "check_deadlines", lambda rt: ran.append("deadlines"))
    monkeypatch.setattr(worker, "refresh_rollups", lambda rt, **kw: ran.append("metrics"))
    housekeeper = Housekeeper(worker_app)
    for _ in range(FAILING_AFTER_ROUNDS):
        all_due(redis_client)
        with caplog.at_level(logging.WARNING), worker_app.app_context():
            housekeeper.round()
    assert ran == ["deadlines", "metrics"] * FAILING_AFTER_ROUNDS
    assert redis_client.hget(HOUSEKEEPING_FAILURES, "sweep") == str(FAILING_AFTER_ROUNDS).encode()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"housekeeping task sweep has failed {FAILING_AFTER_ROUNDS} rounds in a row"
    ]

    ready = worker_app.test_client().get("/readyz")
    assert ready.status_code == 200  # the web still serves: no reason to leave the balancer
    assert ready.get_json()["failing_tasks"] == {"sweep": FAILING_AFTER_ROUNDS}

    # Fixed, the next round clears it.
    with UnitOfWork(database) as uow:
        uow.session.query(Recording).delete()
        uow.commit()
    all_due(redis_client)
    with worker_app.app_context():
        housekeeper.round()
    assert redis_client.hget(HOUSEKEEPING_FAILURES, "sweep") is None
    assert worker_app.test_client().get("/readyz").get_json()["failing_tasks"] == {}
