"""``/track``: a citizen follows a complaint without signing in (Thai, mobile first).

The ticket number plus the last four digits of the phone that filed it, or the citizen ID,
shows the status, the agency holding it, the public notes and the dates (``ticketing.tracking``
decides what is shown). The form is a POST with the CSRF token, so neither the digits nor an ID
end up in a URL or an access log; every look-up counts against the address's limit, and a wrong
number and wrong digits get the same answer.
"""

from __future__ import annotations

import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, render_template, request
from flask.typing import ResponseReturnValue

from hotline.runtime import runtime
from ivr_flows.thai import thai_date
from ticketing.tracking import public_view

log = logging.getLogger(__name__)
bp = Blueprint("track", __name__)
MAX_FIELD = 40


@bp.get("/track")
def track_form() -> ResponseReturnValue:
    return _page()


@bp.post("/track")
def track_lookup() -> ResponseReturnValue:
    rt = runtime()
    if not rt.track_lookups.allow(request.remote_addr or "unknown"):
        log.warning("track: too many look-ups from one address")
        return _page(error="too_many"), 429
    number = request.form.get("number", "")[:MAX_FIELD]
    proof = request.form.get("proof", "")[:MAX_FIELD]
    with rt.uow() as uow:
        view = public_view(uow.session, number, proof)
    if view is None:
        return _page(error="not_found", number=number)
    return _page(view=view)


track_form.auth_scheme = "public"  # type: ignore[attr-defined]
track_lookup.auth_scheme = "public"  # type: ignore[attr-defined]


def _page(**context: object) -> str:
    tz = runtime().settings.tz
    return render_template("public/track.html", when=lambda at: _when(at, tz), **context)


def _when(at: datetime | None, tz: ZoneInfo) -> str:
    if at is None:
        return ""
    local = at.astimezone(tz)
    return f"{thai_date(local.date())} {local:%H:%M}\u00a0น."  # the time never splits


def init_track(app: Flask) -> None:
    app.register_blueprint(bp)
