"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from hotline.background.worker import failing_tasks
from hotline.runtime import runtime

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up and answering; says nothing about its dependencies."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready to serve: the database answers and, when configured, so does Redis.

    Scheduled tasks failing round after round are shown (``failing_tasks``, names and rounds
    only) but keep the answer 200: the web process still serves, and a 503 would take every
    web server out of the load balancer for the worker's trouble."""
    rt = runtime()
    problems: dict[str, str] = {}
    failing: dict[str, int] = {}
    try:
        rt.db.ping()
    except Exception as exc:
        problems["database"] = _describe(exc)
    if rt.redis is not None:
        try:
            rt.redis.ping()
            failing = failing_tasks(rt.redis)
        except Exception as exc:
            problems["redis"] = _describe(exc)
    if problems:
        log.warning("not ready: %s", problems)
        return jsonify(status="unavailable", problems=problems), 503
    if failing:
        log.error("scheduled tasks failing: %s", ", ".join(failing))
    if rt.redis is None:  # no worker, no scheduled tasks
        return jsonify(status="ok", database=rt.db.dialect, redis=False)
    return jsonify(status="ok", database=rt.db.dialect, redis=True, failing_tasks=failing)


def _describe(exc: Exception) -> str:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}"[:300]
