"""The recording fetch job, wired: the runtime's settings, Twilio's media through the REST
adapter, the configured store; then the recording joins its call's ticket."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from hotline.calls.filing import link_stored_recording
from hotline.runtime import Runtime, runtime
from hotline.twilio.rest import TwilioApi
from recordings import fetch, jobs
from recordings.storage import make_store

log = logging.getLogger(__name__)


def fetch_recording(sid: str) -> str:
    """The job (``recordings.jobs.FETCH_JOB``): fetch one recording, then link it to its
    call's ticket."""
    rt = runtime()
    outcome = fetch.fetch_recording(
        rt.uow(), sid, TwilioApi(rt.settings), make_store(rt.settings),
        delete_remote=rt.settings.recordings_delete_from_twilio,
    )  # fmt: skip
    if outcome == "stored":
        link_stored_recording(rt.uow(), sid)
    log.info("recording %s: %s", sid, outcome)
    return outcome


def sweep(rt: Runtime, now: datetime | None = None) -> int:
    """``recordings.jobs.sweep`` with this deployment's store, jobs and RECORDINGS_SWEEP_AFTER_S."""
    after_s = rt.settings.recordings_sweep_after_s
    return jobs.sweep(rt.uow, rt.jobs, make_store(rt.settings), after_s, now)


def purge(
    rt: Runtime,
    older_than_days: int,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> jobs.PurgeReport:
    """``recordings.jobs.purge`` with this deployment's store."""
    return jobs.purge(rt.uow, make_store(rt.settings), older_than_days, dry_run=dry_run,
                      now=now, progress=progress)  # fmt: skip
