"""The app factory, health probes and structured logs."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
import redis

from config import Settings
from config.logging import JsonFormatter, log_context
from hotline import create_app
from tests.conftest import service_missing

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def embedded(tmp_path: Path, **changes: object) -> Settings:
    return Settings(instance_dir=tmp_path).replace(**changes)


def test_healthz_answers_without_touching_dependencies(tmp_path: Path) -> None:
    app = create_app(embedded(tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}
    assert response.headers["X-Request-Id"]


def test_request_id_comes_from_the_proxy_when_sane_and_tags_log_lines(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(embedded(tmp_path))

    @app.get("/log-something")
    def log_something() -> str:
        logging.getLogger("hotline.test").warning("something happened")
        return "ok"

    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="hotline.test"):
        response = client.get("/log-something", headers={"X-Request-Id": "lb-7f3a"})
    assert response.headers["X-Request-Id"] == "lb-7f3a"
    assert [getattr(r, "request_id", None) for r in caplog.records] == ["lb-7f3a"]
    forged = client.get("/healthz", headers={"X-Request-Id": "x" * 500})
    fresh = client.get("/healthz")
    assert len(forged.headers["X-Request-Id"]) == 16 and len(fresh.headers["X-Request-Id"]) == 16
    assert forged.headers["X-Request-Id"] != fresh.headers["X-Request-Id"]


def test_readyz_ok_on_the_embedded_default(tmp_path: Path) -> None:
    response = create_app(embedded(tmp_path)).test_client().get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "sqlite", "redis": False}


def test_readyz_names_an_unreachable_database(tmp_path: Path) -> None:
    app = create_app(embedded(tmp_path, database_url="postgresql://nobody@127.0.0.1:1/none"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and "database" in response.json["problems"]


def test_readyz_names_an_unreachable_redis(tmp_path: Path) -> None:
    app = create_app(embedded(tmp_path, redis_url="redis://127.0.0.1:1/0"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json is not None and list(response.json["problems"]) == ["redis"]


def test_readyz_with_real_redis(tmp_path: Path) -> None:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:
        service_missing("Redis", exc)
    response = create_app(embedded(tmp_path, redis_url=REDIS_URL)).test_client().get("/readyz")
    assert response.status_code == 200 and response.json is not None
    assert response.json["redis"] is True


def test_importing_the_package_builds_nothing() -> None:
    """No app object at import, and the call-centre domain loads without Flask (the worker's
    flusher, migrations): checked in a fresh interpreter."""
    import subprocess
    import sys

    code = ("import sys, hotline, hotline.calls.filing_at_once, hotline.calls.desk, "
            "hotline.calls.buffer, ticketing.services, recordings.jobs\n"
            "assert not any(m == 'flask' or m.startswith('flask.') for m in sys.modules), "
            "sorted(m for m in sys.modules if m.startswith('flask'))\n"
            "assert callable(hotline.create_app)")  # fmt: skip
    subprocess.run([sys.executable, "-c", code], check=True)


def test_json_log_lines_carry_call_sid_and_ticket_number() -> None:
    from config.logging import ContextFilter

    record = logging.LogRecord(
        "hotline.twilio.voice", logging.INFO, __file__, 1, "step %s", ("menu",), None
    )
    with log_context(call_sid="CA123", ticket_number="6900012346"):
        ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "step menu" and line["level"] == "INFO"
    assert line["call_sid"] == "CA123" and line["ticket_number"] == "6900012346"
    assert line["ts"].endswith("+00:00")


def test_production_app_refuses_to_start_without_secrets() -> None:
    from config import SettingsError

    with pytest.raises(SettingsError, match="SECRET_KEY"):
        create_app(Settings.from_env({"HOTLINE_ENV": "production"}))
