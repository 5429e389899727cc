"""Fetching a recording: download from Twilio, verify, store, then mark it stored.

The row is the source of truth. It says ``pending`` until the file is verified and in storage,
so a lost job, a killed worker or a Twilio outage only delays the recording: the sweeper finds
pending rows and fetches them again. Transient failures raise :class:`TransientFetchError` (the
job queue retries with back-off); permanent ones mark the row ``failed`` with the reason.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select

from recordings.models import Recording, RecordingState
from recordings.storage import RecordingStore, key_for
from ticketing.db.base import utcnow
from ticketing.db.uow import UnitOfWork

log = logging.getLogger(__name__)

AUDIO_TYPES = {"audio/x-wav": "wav", "audio/wav": "wav", "audio/wave": "wav", "audio/mpeg": "mp3"}


class TransientFetchError(RuntimeError):
    """Try again later: Twilio answered 5xx or 404, timed out, or sent a truncated body."""


class PermanentFetchError(RuntimeError):
    """Trying again will not help: a foreign host, a body that is not audio."""


@dataclass
class Download:
    status: int
    content_type: str
    length: int | None
    chunks: Iterable[bytes]


class MediaSource(Protocol):
    """Twilio's media and REST API, as the fetch job needs it (see hotline.twilio.rest)."""

    def download(self, url: str) -> AbstractContextManager[Download]: ...
    def delete_recording(self, sid: str) -> None: ...


@dataclass(frozen=True, slots=True)
class FetchPlan:
    recording_id: int
    sid: str
    url: str


def fetch_recording(
    uow: UnitOfWork, sid: str, source: MediaSource, store: RecordingStore, *,
    delete_remote: bool = False,
) -> str:  # fmt: skip
    """Fetch one recording; returns what happened ("stored", "failed", "skipped").

    Raises:
        TransientFetchError: worth retrying; the row stays pending.
    """
    plan = _claim(uow, sid)
    if plan is None:
        return "skipped"
    try:
        with source.download(plan.url) as download:
            extension = _check_response(download)
            stored = store.put(key_for(sid, extension), _verified(download, extension))
    except PermanentFetchError as exc:
        _mark_failed(uow, plan, str(exc))
        log.error("recording %s cannot be fetched: %s", sid, exc)
        return "failed"
    duration = _wav_duration(store, stored.key) if extension == "wav" else None
    _mark_stored(uow, plan, stored.key, stored.size, stored.sha256, extension, duration)
    if delete_remote:
        _delete_remote(uow, plan, source)
    return "stored"


def _claim(uow: UnitOfWork, sid: str) -> FetchPlan | None:
    """Count the attempt and read what to fetch; None when there is nothing to do."""
    with uow:
        row = uow.session.scalars(select(Recording).where(Recording.sid == sid)).first()
        if row is None or row.state != RecordingState.PENDING:
            return None
        row.attempts += 1
        plan = FetchPlan(row.id, row.sid, row.media_url)
        uow.commit()
    return plan


def _check_response(download: Download) -> str:
    if download.status >= 500 or download.status in (404, 401, 403, 429):
        # 404: media not ready yet; 401/403: credentials being rotated; 429: rate limited.
        raise TransientFetchError(f"Twilio answered HTTP {download.status}")
    if download.status != 200:
        raise PermanentFetchError(f"Twilio answered HTTP {download.status}")
    content_type = download.content_type.split(";", 1)[0].strip().lower()
    extension = AUDIO_TYPES.get(content_type)
    if extension is None:
        raise PermanentFetchError(f"not audio: content type {download.content_type!r}")
    return extension


def _verified(download: Download, extension: str) -> Iterator[bytes]:
    """Pass the body through, checking the audio header and the announced length."""
    received = 0
    header = b""
    for chunk in download.chunks:
        if len(header) < 12:
            header += chunk[: 12 - len(header)]
            if len(header) >= 12:
                _check_magic(header, extension)
        received += len(chunk)
        yield chunk
    if len(header) < 12:
        raise TransientFetchError(f"body too short to be audio ({received} bytes)")
    if download.length is not None and received != download.length:
        raise TransientFetchError(f"truncated body: {received} of {download.length} bytes")


def _check_magic(header: bytes, extension: str) -> None:
    if extension == "wav" and not (header[:4] == b"RIFF" and header[8:12] == b"WAVE"):
        raise PermanentFetchError("the body is not a WAV file")
    frame_sync = header[0] == 0xFF and header[1] >= 0xE0
    if extension == "mp3" and not (header[:3] == b"ID3" or frame_sync):
        raise PermanentFetchError("the body is not an MP3 file")


def _wav_duration(store: RecordingStore, key: str) -> int | None:
    """Seconds of audio from the WAV header (fmt byte rate, data size)."""
    head = b"".join(store.read(key, 0, 4095))
    position, byte_rate, data_size = 12, 0, -1
    while position + 8 <= len(head):
        chunk_id = head[position : position + 4]
        (size,) = struct.unpack("<I", head[position + 4 : position + 8])
        if chunk_id == b"fmt " and position + 16 <= len(head):
            (byte_rate,) = struct.unpack("<I", head[position + 16 : position + 20])
        if chunk_id == b"data":
            data_size = size
            break
        position += 8 + size + (size % 2)
    if byte_rate <= 0 or data_size < 0:
        return None
    return round(data_size / byte_rate)


def _mark_stored(
    uow: UnitOfWork, plan: FetchPlan, key: str, size: int, sha256: str, extension: str,
    duration: int | None,
) -> None:  # fmt: skip
    with uow:
        row = uow.session.get(Recording, plan.recording_id)
        if row is None:
            return
        row.state = RecordingState.STORED.value
        row.storage_key, row.size_bytes, row.sha256 = key, size, sha256
        row.content_type = "audio/mpeg" if extension == "mp3" else "audio/wav"
        row.duration_s = duration if duration is not None else row.duration_s
        row.stored_at = utcnow()
        row.last_error = None
        uow.commit()


def _mark_failed(uow: UnitOfWork, plan: FetchPlan, reason: str) -> None:
    with uow:
        row = uow.session.get(Recording, plan.recording_id)
        if row is not None and row.state == RecordingState.PENDING:
            row.state = RecordingState.FAILED.value
            row.last_error = reason[:1000]
            uow.commit()


def _delete_remote(uow: UnitOfWork, plan: FetchPlan, source: MediaSource) -> None:
    """Twilio's copy goes only after ours is safe; a failure here leaves it for later."""
    try:
        source.delete_recording(plan.sid)
    except Exception:
        log.warning("could not delete Twilio's copy of %s", plan.sid, exc_info=True)
        return
    with uow:
        row = uow.session.get(Recording, plan.recording_id)
        if row is not None:
            row.twilio_deleted_at = utcnow()
            uow.commit()


def stale_pending(uow: UnitOfWork, before: datetime) -> list[str]:
    """SIDs of recordings still pending since before ``before``: the sweeper's work list."""
    with uow:
        query = select(Recording.sid).where(
            Recording.state == RecordingState.PENDING, Recording.created_at < before
        )
        return list(uow.session.scalars(query.order_by(Recording.created_at).limit(5000)))
