"""Real calls through the webhooks (the phone simulator) become the right figures, and the
worker's housekeeping round keeps the rollups equal to the raw computation."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from zoneinfo import ZoneInfo

import redis
from flask import Flask

from hotline.background.worker import Housekeeper
from hotline.calls.models import Call
from hotline.demo.phone import PhoneSimulator, QueueBehaviour
from hotline.metrics.accumulate import raw_sums
from hotline.metrics.rollup import covered_until, read_sums
from hotline.metrics.service import rules_for
from hotline.runtime import runtime
from tests.voice import OFFICE_HOURS
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TZ = ZoneInfo("Asia/Bangkok")
COMPLAINT = ["1", "1", "50200", "1", "#", "record:9", "2", "4"]


def test_webhook_calls_become_the_expected_figures(
    database: Database, phone: PhoneSimulator, voice_app: Flask
) -> None:
    calls = [
        (["0", "4"], QueueBehaviour(answered=True, wait_s=30)),
        (["0"], QueueBehaviour(answered=False, wait_s=45)),
        (["0"], QueueBehaviour(answered=False, wait_s=2)),
        (COMPLAINT, None),
        (["hangup"], None),
    ]
    for minute, (script, queue) in enumerate(calls):
        runtime(voice_app).clock = lambda minute=minute: OFFICE_HOURS + timedelta(minutes=minute)
        phone.call(script, queue=queue)
    with UnitOfWork(database) as uow:
        sums = raw_sums(uow.session, Call.id > 0, rules_for(runtime(voice_app).settings), TZ)
    totals = sums.totals()
    assert totals["calls"] == 5 and totals["offered"] == 3 and totals["answered"] == 1
    assert totals["answer_wait_s"] == 30 and totals["answered_in_sl"] == 0
    assert totals["abandoned_queue"] == 1 and totals["short_abandons"] == 1
    assert totals["contained"] == 1 and totals["abandoned_ivr"] == 1
    assert totals["survey_responses"] == 2 and totals["survey_satisfied"] == 2  # both said 4
    assert totals["repeat_calls"] == 4  # one simulated caller phoned five times
    funnel = sums.funnel
    assert funnel["main_menu"]["entered"] == 5 and funnel["main_menu"]["to_agent"] == 3
    assert funnel["main_menu"]["hung_up"] == 1


def test_the_housekeeping_round_keeps_the_rollups_current(
    database: Database, make_app: Callable[..., Flask], redis_client: redis.Redis
) -> None:
    app = make_app(redis_url=REDIS_URL, call_log_batch_ms=0)
    from tests.integration.metrics_fixture import DAY_START, T0, load

    load(database, None)
    rt = runtime(app)
    rt.clock = lambda: T0 + timedelta(hours=3)
    Housekeeper(app).round()
    rules = rules_for(rt.settings)
    with UnitOfWork(database) as uow:
        assert covered_until(uow.session) == T0 + timedelta(hours=3) - timedelta(seconds=60)
        rolled = read_sums(uow.session, DAY_START, DAY_START + timedelta(days=1), rules, TZ,
                           now=rt.clock())  # fmt: skip
        raw = raw_sums(uow.session, Call.id > 0, rules, TZ)
    assert rolled.normalised() == raw.normalised()
