"""Recording jobs and their wiring: fetch (RQ job), sweep (re-enqueue the stuck), purge (PDPA).

Each job takes a SID, reloads the row and is idempotent: a recording already stored, failed or
purged is skipped. Jobs are dispatched only after the transaction that wrote the row commits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from config import Settings
from hotline.calls.models import Call, call_tickets
from hotline.runtime import Runtime, runtime
from hotline.twilio.rest import TwilioApi
from recordings import fetch
from recordings.models import Recording, RecordingState
from recordings.storage import FilesystemStore, RecordingStore, S3Store, StorageError
from ticketing.audit import record_audit
from ticketing.db.base import utcnow
from ticketing.db.uow import JobRequest, UnitOfWork
from ticketing.permissions import Actor

log = logging.getLogger(__name__)
QUEUE = "recordings"
SYSTEM = Actor.system("recordings")


def make_store(settings: Settings) -> RecordingStore:
    if settings.recordings_backend == "s3":
        return S3Store(settings.s3_bucket or "", settings.s3_prefix, settings.s3_endpoint_url)
    return FilesystemStore(settings.effective_recordings_dir)


def fetch_request(sid: str) -> JobRequest:
    return JobRequest(
        "hotline.background.recordings.fetch_recording", (sid,), f"fetch-recording-{sid}", QUEUE
    )


def note_recording(
    uow: UnitOfWork, sid: str, call_sid: str, status: str, data: Mapping[str, str]
) -> None:
    """A recording status callback: write the row first, commit, then enqueue the fetch.

    ``completed`` → pending (fetched by the job); ``absent`` and ``failed`` are recorded and
    never fetched. A replayed callback finds the row and changes nothing; the fetch job id is
    derived from the SID, so a second enqueue is refused while the first is queued or running.
    """
    state = {"completed": RecordingState.PENDING, "absent": RecordingState.ABSENT}.get(
        status, RecordingState.FAILED
    )
    with uow:
        row = uow.session.scalars(select(Recording).where(Recording.sid == sid)).first()
        if row is None:
            row = Recording(sid=sid, call_sid=call_sid, state=state.value)
            uow.session.add(row)
        elif row.state not in (RecordingState.PENDING, RecordingState.FAILED):
            return  # already stored, absent or purged: nothing to do twice
        else:
            row.state = state.value
        row.media_url = data.get("recording_url") or row.media_url
        row.source = data.get("recording_source") or row.source
        row.channels = int(data.get("recording_channels") or row.channels or 1)
        duration = data.get("recording_duration", "")
        if duration.isdecimal():
            row.duration_s = int(duration)
        if state == RecordingState.PENDING:
            uow.after_commit(fetch_request(sid))
        uow.commit()


def fetch_recording(sid: str) -> str:
    """The RQ job: fetch one recording, then link it to its call's ticket."""
    rt = runtime()
    outcome = fetch.fetch_recording(
        rt.uow(), sid, TwilioApi(rt.settings), make_store(rt.settings),
        delete_remote=rt.settings.recordings_delete_from_twilio,
    )  # fmt: skip
    if outcome == "stored":
        _link_to_ticket(rt.uow(), sid)
    log.info("recording %s: %s", sid, outcome)
    return outcome


def _link_to_ticket(uow: UnitOfWork, sid: str) -> None:
    """A recording of a call belongs to the call's ticket (agent calls link it this way)."""
    with uow:
        row = uow.session.scalars(select(Recording).where(Recording.sid == sid)).first()
        if row is None or row.ticket_id is not None:
            return
        ticket_id = uow.session.scalars(
            select(call_tickets.c.ticket_id)
            .join(Call, Call.id == call_tickets.c.call_id)
            .where(Call.call_sid == row.call_sid)
        ).first()
        if ticket_id is not None:
            row.ticket_id = ticket_id
            uow.commit()


# Sweeping ---------------------------------------------------------------------------------


def sweep(rt: Runtime, now: datetime | None = None) -> int:
    """Re-enqueue recordings pending longer than RECORDINGS_SWEEP_AFTER_S; returns how many."""
    after = rt.settings.recordings_sweep_after_s
    before = (now or utcnow()) - timedelta(seconds=after)
    requeue = getattr(rt.jobs, "requeue", None)
    count = 0
    for sid in fetch.stale_pending(rt.uow(), before):
        request = fetch_request(sid)
        if requeue is not None and requeue(request, after):
            count += 1
    if isinstance(store := make_store(rt.settings), FilesystemStore):
        store.sweep_partials(older_than_s=3600)
    return count


# Retention --------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    due: int = 0
    purged: int = 0
    missing_files: int = 0


def purge(
    rt: Runtime,
    older_than_days: int,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> PurgeReport:
    """Delete the audio of recordings older than the retention period; keep their rows.

    The row stays (SID, call, ticket, checksum, times) with state ``purged``, and each purge
    writes an audit event, so the trail outlives the audio as PDPA retention requires.
    """
    cutoff = (now or utcnow()) - timedelta(days=older_than_days)
    store = make_store(rt.settings)
    report = PurgeReport()
    due = _due_for_purge(rt.uow(), cutoff)
    report.due = len(due)
    if dry_run:
        return report
    for recording_id in due:
        if _purge_one(rt.uow(), store, recording_id):
            report.purged += 1
        else:
            report.missing_files += 1
        if progress is not None:
            progress(1)
    return report


def _due_for_purge(uow: UnitOfWork, cutoff: datetime) -> list[int]:
    with uow:
        query = select(Recording.id).where(
            Recording.state.in_(
                (RecordingState.STORED, RecordingState.FAILED, RecordingState.ABSENT)
            ),
            Recording.created_at < cutoff,
        )
        return list(uow.session.scalars(query.order_by(Recording.id)))


def _purge_one(uow: UnitOfWork, store: RecordingStore, recording_id: int) -> bool:
    with uow:
        row = uow.session.get(Recording, recording_id)
        if row is None or row.state == RecordingState.PURGED:
            return True
        had_file = bool(row.storage_key) and _delete_file(store, row.storage_key or "")
        before = {"state": row.state, "storage_key": row.storage_key}
        row.state = RecordingState.PURGED.value
        row.purged_at = utcnow()
        record_audit(uow.session, SYSTEM, "recording.purge", ("recording", row.sid),
                     before=before, after={"state": row.state})  # fmt: skip
        uow.commit()
    return had_file or before["storage_key"] is None


def _delete_file(store: RecordingStore, key: str) -> bool:
    try:
        exists = store.exists(key)
        store.delete(key)
    except StorageError:
        log.exception("could not delete %s", key)
        raise
    return exists
