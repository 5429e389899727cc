"""The recording life cycle's rules: note a status callback, sweep what is stuck, purge (PDPA).

Each takes a unit of work (or a way to open one) and the storage, never the web app. The fetch
itself is :mod:`recordings.fetch`; the job that runs it is named ``FETCH_JOB`` and wired by the
background layer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from recordings import fetch
from recordings.models import Recording, RecordingState
from recordings.storage import FilesystemStore, RecordingStore, StorageError
from ticketing.audit import record_audit
from ticketing.db.base import utcnow
from ticketing.db.uow import JobDispatcher, JobRequest, UnitOfWork
from ticketing.permissions import Actor

log = logging.getLogger(__name__)
QUEUE = "recordings"
FETCH_JOB = "recordings.fetch"  # the job's name; the background layer runs it
SYSTEM = Actor.system("recordings")


def fetch_request(sid: str) -> JobRequest:
    """The fetch of one recording: one job per SID, whoever asks and however often."""
    return JobRequest(FETCH_JOB, (sid,), f"fetch-recording-{sid}", QUEUE)


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


# Sweeping ---------------------------------------------------------------------------------


def sweep(
    uow: Callable[[], UnitOfWork],
    jobs: JobDispatcher,
    store: RecordingStore,
    after_s: int,
    now: datetime | None = None,
) -> int:
    """Enqueue again the recordings still pending after ``after_s`` (the job was lost with a
    worker, or Redis); returns how many. Partial files of a killed write are swept too."""
    before = (now or utcnow()) - timedelta(seconds=after_s)
    requeue = getattr(jobs, "requeue", None)
    count = 0
    for sid in fetch.stale_pending(uow(), before):
        if requeue is not None and requeue(fetch_request(sid), after_s):
            count += 1
    if isinstance(store, FilesystemStore):
        store.sweep_partials(older_than_s=3600)
    return count


# Retention --------------------------------------------------------------------------------


@dataclass
class PurgeReport:
    due: int = 0
    purged: int = 0
    missing_files: int = 0


def purge(
    uow: Callable[[], UnitOfWork],
    store: RecordingStore,
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
    report = PurgeReport()
    due = _due_for_purge(uow(), cutoff)
    report.due = len(due)
    if dry_run:
        return report
    for recording_id in due:
        if _purge_one(uow(), store, recording_id):
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
