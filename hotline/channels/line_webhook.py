"""``POST /line/webhook``: LINE's one URL (set once in the LINE Developers console).

The signature is checked over the raw body before anything is read or written; a missing one
gets 401, a wrong one 403, and neither writes a row. Each event is written once, by its
``webhookEventId`` (a redelivery finds its row and asks for nothing), and handled by a job after
the commit: the webhook answers 200 at once. Without LINE settings the URL does not exist (404).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, abort, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from hotline.channels.line_api import Signature
from hotline.channels.line_models import HANDLE_EVENT_JOB, LineEvent
from hotline.channels.line_progress import listen
from hotline.runtime import runtime
from ticketing.db.base import utcnow
from ticketing.db.statements import insert_ignoring_conflicts
from ticketing.db.uow import JobRequest

log = logging.getLogger(__name__)
bp = Blueprint("line", __name__)
PATH = "/line/webhook"
MAX_EVENT_ID = 64


@bp.post(PATH)
def webhook() -> ResponseReturnValue:
    rt = runtime()
    secret = rt.settings.line_channel_secret
    if not rt.settings.line_enabled or secret is None:
        abort(404)
    signature = request.headers.get("X-Line-Signature")
    if not signature:
        log.warning("LINE webhook without a signature refused")
        return {"message": "signature required"}, 401
    events = Signature(secret).events(request.get_data(cache=False), signature)
    if events is None:
        log.warning("LINE webhook with a wrong signature refused")
        return {"message": "invalid signature"}, 403
    rows = [_row(e) for e in events if _event_id(e)]
    if rows:
        _record(rows)
    return {}, 200


webhook.auth_scheme = "public"  # type: ignore[attr-defined]  # LINE's signature, not a session


def _event_id(event: dict[str, Any]) -> str | None:
    value = event.get("webhookEventId")
    if isinstance(value, str) and 0 < len(value) <= MAX_EVENT_ID:
        return value
    return None


def _row(event: dict[str, Any]) -> dict[str, Any]:
    context = event.get("deliveryContext") or {}
    return {
        "webhook_event_id": _event_id(event),
        "kind": str(event.get("type", ""))[:32],
        "payload": event,
        "redelivery": bool(context.get("isRedelivery")),
        "received_at": utcnow(),
    }


def _record(rows: list[dict[str, Any]]) -> None:
    """Insert the events not seen before; a job for each new one, after the commit."""
    rt = runtime()
    ids = [str(r["webhook_event_id"]) for r in rows]
    with rt.uow() as uow:
        session = uow.session
        session.connection().execute(insert_ignoring_conflicts(session, LineEvent.__table__), rows)
        # A redelivery of a handled event asks for nothing; of one not handled yet, for its job
        # again (the job locks the row and does nothing twice; RQ keeps one job per id).
        unhandled = session.scalars(
            select(LineEvent.id)
            .where(LineEvent.webhook_event_id.in_(ids), LineEvent.handled_at.is_(None))
            .order_by(LineEvent.id)
        ).all()
        for event_id in unhandled:
            uow.after_commit(JobRequest(HANDLE_EVENT_JOB, (event_id,),
                                        job_id=f"line-event-{event_id}"))  # fmt: skip
        uow.commit()


def init_line(app: Flask) -> None:
    app.register_blueprint(bp)
    rt = runtime(app)
    if rt.settings.line_enabled:
        listen(rt)  # progress of tickets followed over LINE, pushed
