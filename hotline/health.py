"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue

from hotline.runtime import runtime

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    """The process is up and answering; says nothing about its dependencies."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    """Ready to serve: the database answers and, when configured, so does Redis."""
    rt = runtime()
    problems: dict[str, str] = {}
    try:
        rt.db.ping()
    except Exception as exc:
        problems["database"] = _describe(exc)
    if rt.redis is not None:
        try:
            rt.redis.ping()
        except Exception as exc:
            problems["redis"] = _describe(exc)
    if problems:
        log.warning("not ready: %s", problems)
        return jsonify(status="unavailable", problems=problems), 503
    return jsonify(status="ok", database=rt.db.dialect, redis=rt.redis is not None)


def _describe(exc: Exception) -> str:
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first_line}"[:300]
