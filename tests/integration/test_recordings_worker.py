"""Nothing lost: real Redis, real `hotline worker` processes, a Twilio stand-in.

Each test loses something on purpose — the queue (FLUSHALL), the worker (SIGKILL in the middle
of a download), Twilio (500s) — and checks that the recording is stored in the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from flask import Flask
from twilio.request_validator import RequestValidator

from tests.integration.test_recordings import ACCOUNT, CALL_SID, row, sid
from tests.twilio_standin import Behaviour, TwilioStandIn
from tests.voice import AUTH_TOKEN, BASE_URL
from ticketing.db.engine import Database

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
HOTLINE = str(Path(sys.executable).parent / "hotline")


@pytest.fixture
def env(database: Database, standin: TwilioStandIn, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database.url,
        "REDIS_URL": REDIS_URL,
        "INSTANCE_DIR": str(tmp_path),
        "RECORDINGS_DIR": str(tmp_path / "recordings"),
        "TWILIO_API_BASE_URL": standin.base_url,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_HTTP_TIMEOUT_S": "20",
        "RECORDINGS_SWEEP_AFTER_S": "1",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture
def app(
    make_app: Callable[..., Flask],
    standin: TwilioStandIn,
    redis_client: redis.Redis,
    tmp_path: Path,
) -> Flask:
    return make_app(redis_url=REDIS_URL, twilio_api_base_url=standin.base_url,
                    recordings_dir=tmp_path / "recordings", call_log_batch_ms=0)  # fmt: skip


def callback(app: Flask, recording_sid: str, url: str) -> None:
    params = {
        "AccountSid": ACCOUNT,
        "CallSid": CALL_SID,
        "RecordingSid": recording_sid,
        "RecordingUrl": url,
        "RecordingStatus": "completed",
        "RecordingDuration": "2",
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        f"{BASE_URL}/twilio/recording-status", params
    )
    response = app.test_client().post("/twilio/recording-status", data=params,
                                      headers={"X-Twilio-Signature": signature})  # fmt: skip
    assert response.status_code == 200


def burst(env: dict[str, str]) -> None:
    cli(env, "worker", "--burst", "--queue", "recordings")


def cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([HOTLINE, *args], env=env, capture_output=True, text=True,
                            timeout=120, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_worker_process_fetches_what_the_callback_enqueued(
    app: Flask,
    database: Database,
    standin: TwilioStandIn,
    env: dict[str, str],
    redis_client: redis.Redis,
) -> None:
    callback(app, sid(21), standin.media_url(sid(21)))
    callback(app, sid(21), standin.media_url(sid(21)))  # replayed: still one job
    assert redis_client.llen("rq:queue:recordings") == 1
    assert row(database, sid(21)).state == "pending"  # the webhook did not wait for it
    burst(env)
    assert row(database, sid(21)).state == "stored"


def test_losing_redis_delays_a_recording_but_never_loses_it(
    app: Flask,
    database: Database,
    standin: TwilioStandIn,
    env: dict[str, str],
    redis_client: redis.Redis,
) -> None:
    callback(app, sid(22), standin.media_url(sid(22)))
    redis_client.flushall()
    burst(env)
    assert row(database, sid(22)).state == "pending"  # the job is gone; the row remembers
    time.sleep(1.1)
    assert "re-enqueued 1" in cli(env, "recordings", "sweep")
    burst(env)
    assert row(database, sid(22)).state == "stored"


def test_a_twilio_outage_delays_a_recording_but_never_loses_it(
    app: Flask, database: Database, standin: TwilioStandIn, env: dict[str, str]
) -> None:
    standin.behaviours[sid(23)] = Behaviour(failures=1)  # Twilio fails the first download
    callback(app, sid(23), standin.media_url(sid(23)))
    worker = subprocess.Popen([HOTLINE, "worker", "--queue", "recordings"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 60  # RQ retries after 10 s (back-off 10, 30, 60, 300)
        while row(database, sid(23)).state != "stored" and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
    stored = row(database, sid(23))
    assert stored.state == "stored" and stored.attempts == 2


def test_killing_a_worker_mid_download_never_loses_the_recording(
    app: Flask, database: Database, standin: TwilioStandIn, env: dict[str, str]
) -> None:
    standin.behaviours[sid(24)] = Behaviour(delay_s=8.0)
    callback(app, sid(24), standin.media_url(sid(24)))
    worker = subprocess.Popen([HOTLINE, "worker", "--queue", "recordings"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not standin.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert standin.requests, "the worker never started the download"
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse, mid-download
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert row(database, sid(24)).state == "pending"
    standin.behaviours[sid(24)] = Behaviour()
    time.sleep(1.1)
    assert "re-enqueued 1" in cli(env, "recordings", "sweep")
    burst(env)
    assert row(database, sid(24)).state == "stored"
