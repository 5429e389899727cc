"""The console's home page (recent tickets, deadline alerts) and recording playback.

Playback streams from storage with HTTP Range, so the browser's <audio> can seek, and writes an
audit event for every playback (PDPA): who, which recording, when, from where. A playback is a
request that starts at byte 0; the seeks that follow it belong to the same playback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline.auth import current_actor, current_user, roles_required
from hotline.console.shared import add_template_helpers, alerts_for
from hotline.runtime import runtime
from recordings.models import Recording, RecordingState
from recordings.storage import StorageError, make_store
from ticketing.audit import record_audit
from ticketing.models import Role, Ticket
from ticketing.permissions import STAFF

bp = Blueprint("console", __name__, url_prefix="/console")
add_template_helpers(bp)
RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@bp.get("/")
@roles_required(*STAFF, Role.AGENCY)
def home() -> ResponseReturnValue:
    user = current_user()
    if user is None or user.role == Role.AGENCY:
        # Agencies see only what was referred to them.
        return redirect(url_for("referrals.index"))
    tickets = _recent_tickets()
    return render_template(
        "console/home.html",
        tickets=tickets,
        recordings=_stored_recordings(tickets),
        alerts=alerts_for(user.id),
    )


def _stored_recordings(tickets: list[Ticket]) -> dict[int, str]:
    """ticket id → SID of its stored recording (the caller's own words), for the players."""
    if not tickets:
        return {}
    with runtime().uow() as uow:
        rows = uow.session.execute(
            select(Recording.ticket_id, Recording.sid).where(
                Recording.ticket_id.in_([t.id for t in tickets]),
                Recording.state == RecordingState.STORED,
            )
        ).all()
    return {ticket_id: sid for ticket_id, sid in rows if ticket_id is not None}


def _recent_tickets(limit: int = 20) -> list[Ticket]:
    with runtime().uow() as uow:
        query = (
            select(Ticket)
            .options(joinedload(Ticket.category))
            .where(Ticket.is_training.is_(False))
            .order_by(Ticket.created_at.desc())
            .limit(limit)
        )
        return list(uow.session.scalars(query))


@bp.get("/recordings/<sid>/audio")
@roles_required(*STAFF)
def recording_audio(sid: str) -> ResponseReturnValue:
    rt = runtime()
    with rt.uow() as uow:
        recording = uow.session.scalars(select(Recording).where(Recording.sid == sid)).first()
    if recording is None:
        abort(404)
    if recording.state == RecordingState.PURGED:
        abort(410, description="This recording was deleted at the end of its retention period.")
    if recording.state != RecordingState.STORED or not recording.storage_key:
        abort(404, description="This recording is not available yet.")
    store = make_store(rt.settings)
    try:
        size = store.size(recording.storage_key)
    except StorageError:
        abort(404)
    span = _requested_range(request.headers.get("Range"), size)
    if span is None:
        return Response(status=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = span
    if start == 0:
        _audit_playback(recording)
    body = store.read(recording.storage_key, start, end)
    return _audio_response(body, recording.content_type or "audio/wav", start, end, size)


def _requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive; the whole file without a header; None when unsatisfiable."""
    if not header:
        return 0, size - 1
    match = RANGE.match(header.strip())
    if match is None or size == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = min(int(last), size)
        return (size - length, size - 1) if length else None
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    return (start, end) if start <= end else None


def _audio_response(
    body: Iterator[bytes], content_type: str, start: int, end: int, size: int
) -> Response:
    partial = request.headers.get("Range") is not None
    response = Response(body, status=206 if partial else 200, mimetype=content_type)
    response.headers["Accept-Ranges"] = "bytes"
    response.headers["Content-Length"] = str(end - start + 1)
    response.headers["Cache-Control"] = "private, no-store"  # personal data: no caches
    if partial:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def _audit_playback(recording: Recording) -> None:
    actor = current_actor()
    with runtime().uow() as uow:
        after = {"ticket_id": recording.ticket_id, "call_sid": recording.call_sid,
                 "user_agent": request.user_agent.string[:200]}  # fmt: skip
        record_audit(
            uow.session, actor, "recording.play", ("recording", recording.sid), after=after
        )
        uow.commit()
