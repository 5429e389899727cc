"""The real app for bench/ivr_webhooks.py, with its clock moved into office hours.

The default flow sends callers outside 08:30–16:30 (Asia/Bangkok, weekdays) to the after-hours
menu, which has no agent queue. A benchmark of "a hotline day" must walk the daytime flow
whatever the hour it runs at, so the clock runs at real speed from a Wednesday 10:00 in Bangkok
(not a public holiday). Everything else is the unchanged production app.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from hotline import create_app
from hotline.runtime import runtime
from ticketing.db.base import utcnow

OFFICE_MORNING = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # Wed 25 Nov 2026, 10:00 in Bangkok


def create_office_hours_app() -> Flask:
    app = create_app()
    offset = OFFICE_MORNING - utcnow()
    runtime(app).clock = lambda: utcnow() + offset
    return app
