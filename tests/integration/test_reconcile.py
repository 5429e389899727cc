"""ISSUE #18, item 16: after a Redis loss the call log has gaps; Twilio's own call records
(the REST Calls list, served by the stand-in) fill in the calls and outcomes we lack."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta

import redis
from flask import Flask

from hotline.background.reconcile import reconcile_since
from hotline.calls.models import Call
from hotline.runtime import runtime
from tests.twilio_standin import TwilioStandIn, call_record
from tests.voice import BASE_URL, OFFICE_HOURS, REDIS_URL, call_row, count
from tests.webhooks.payloads import payload, signed_post
from ticketing.db.engine import Database

LOST, NEVER_HEARD, CLOSED, AGENT_LEG = ("CA" + f"{n:032x}" for n in (1, 2, 3, 4))


def test_calls_lost_with_redis_are_filled_in_from_twilios_records(
    make_app: Callable[..., Flask],
    database: Database,
    redis_client: redis.Redis,
    standin: TwilioStandIn,
) -> None:
    app = make_app(redis_url=REDIS_URL, call_log_batch_ms=0,
                   twilio_api_base_url=standin.base_url)  # fmt: skip
    client = app.test_client()
    # LOST's start reached the database (Redis was down: written directly), its end did not.
    from hotline.background.worker import flush_all

    signed_post(client, f"{BASE_URL}/twilio/voice", payload("voice/incoming_call", CallSid=LOST))
    signed_post(client, f"{BASE_URL}/twilio/voice", payload("voice/incoming_call", CallSid=CLOSED))
    ended = payload("voice/status_completed", CallSid=CLOSED, CallDuration="30")
    signed_post(client, f"{BASE_URL}/twilio/status", ended)
    flush_all(runtime(app).db, redis_client)
    signed_post(client, f"{BASE_URL}/twilio/status",
                payload("voice/status_completed", CallSid=LOST, CallDuration="40"))  # fmt: skip
    redis_client.flushdb()  # Redis lost: LOST's end is gone; NEVER_HEARD was never logged
    assert call_row(database, LOST).ended_at is None

    start = OFFICE_HOURS - timedelta(minutes=30)
    standin.call_records = [
        call_record(LOST, start, start + timedelta(seconds=40), "completed"),
        call_record(NEVER_HEARD, start, start + timedelta(seconds=5), "no-answer"),
        call_record(CLOSED, start, start + timedelta(seconds=99), "completed"),
        call_record(
            AGENT_LEG,
            start,
            start + timedelta(seconds=9),
            "completed",
            direction="outbound-api",
            parent_call_sid=LOST,
        ),
    ]
    with app.app_context():
        assert reconcile_since(runtime(app), OFFICE_HOURS - timedelta(hours=2)) == 2

    lost = call_row(database, LOST)
    assert lost.ended_at == start + timedelta(seconds=40) and lost.duration_s == 40
    assert lost.outcome is not None and lost.reconciled_at is not None
    never = call_row(database, NEVER_HEARD)
    assert never.outcome == "no_answer" and never.from_number == "+66812345678"
    assert never.reconciled_at is not None
    closed = call_row(database, CLOSED)
    assert closed.duration_s == 30 and closed.reconciled_at is None  # ours is left alone
    assert count(database, Call) == 3  # an agent's leg is no citizen's call

    with app.app_context():  # again: nothing more to fill
        assert reconcile_since(runtime(app), OFFICE_HOURS - timedelta(hours=2)) == 0


def test_hotline_calls_reconcile_on_the_command_line(
    database: Database, standin: TwilioStandIn, tmp_path: object
) -> None:
    start = OFFICE_HOURS - timedelta(minutes=5)
    standin.call_records = [call_record(NEVER_HEARD, start, start, "busy")]
    env = {**os.environ, "DATABASE_URL": database.url, "INSTANCE_DIR": str(tmp_path),
           "TWILIO_API_BASE_URL": standin.base_url, "TWILIO_ACCOUNT_SID": standin.account_sid,
           "TWILIO_AUTH_TOKEN": standin.auth_token, "LOG_LEVEL": "WARNING"}  # fmt: skip
    env.pop("REDIS_URL", None)
    hotline = os.path.join(os.path.dirname(sys.executable), "hotline")
    result = subprocess.run([hotline, "calls", "reconcile", "--since", "2026-11-24"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "reconciled 1 call(s)" in result.stdout
    assert call_row(database, NEVER_HEARD).outcome == "busy"
