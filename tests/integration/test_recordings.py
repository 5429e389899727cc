"""The recording pipeline against a local Twilio stand-in: callback, fetch, verify, store."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from hotline.background.jobs import InlineJobs
from hotline.background.recordings import fetch_recording, purge, sweep
from hotline.calls.models import Call, call_tickets
from hotline.runtime import runtime
from recordings.models import Recording
from recordings.storage import FilesystemStore
from tests.factories import make_ticket
from tests.twilio_standin import Behaviour, TwilioStandIn
from tests.voice import AUTH_TOKEN, BASE_URL
from ticketing.db.base import utcnow
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import AuditEvent

ACCOUNT = "AC" + "0" * 32
CALL_SID = "CA" + "3" * 32


def sid(n: int) -> str:
    return "RE" + f"{n:032x}"


@pytest.fixture
def rec_app(make_app: Callable[..., Flask], standin: TwilioStandIn, tmp_path: Path) -> Flask:
    return make_app(
        twilio_api_base_url=standin.base_url,
        recordings_dir=tmp_path / "recordings",
        twilio_http_timeout_s=2.0,
    )


def callback(app: Flask, recording_sid: str, url: str, status: str = "completed") -> int:
    params = {"AccountSid": ACCOUNT, "CallSid": CALL_SID, "RecordingSid": recording_sid,
              "RecordingUrl": url, "RecordingStatus": status, "RecordingDuration": "2",
              "RecordingChannels": "2", "RecordingSource": "DialVerb"}  # fmt: skip
    full = f"{BASE_URL}/twilio/recording-status"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(full, params)
    response = app.test_client().post("/twilio/recording-status", data=params,
                                      headers={"X-Twilio-Signature": signature})  # fmt: skip
    jobs = runtime(app).jobs
    assert isinstance(jobs, InlineJobs)
    jobs.join()
    return response.status_code


def row(db: Database, recording_sid: str) -> Recording:
    with UnitOfWork(db) as uow:
        return uow.session.scalars(select(Recording).where(Recording.sid == recording_sid)).one()


def media_gets(standin: TwilioStandIn) -> int:
    return sum(
        1 for method, path, _ in standin.requests if method == "GET" and "/Recordings/" in path
    )


def test_a_callback_stores_a_verified_copy(
    rec_app: Flask, database: Database, standin: TwilioStandIn, tmp_path: Path
) -> None:
    assert callback(rec_app, sid(1), standin.media_url(sid(1))) == 200
    stored = row(database, sid(1))
    assert stored.state == "stored" and stored.attempts == 1
    assert stored.sha256 == hashlib.sha256(standin.media).hexdigest()
    assert stored.size_bytes == len(standin.media) and stored.duration_s == 2
    assert (
        stored.content_type == "audio/wav" and stored.channels == 2 and stored.source == "DialVerb"
    )
    store = FilesystemStore(tmp_path / "recordings")
    assert b"".join(store.read(stored.storage_key or "")) == standin.media
    assert stored.storage_key == f"RE/00/{sid(1)}.wav"
    assert all(ok for _, _, ok in standin.requests)  # Basic auth was sent and accepted


def test_a_replayed_callback_changes_nothing(
    rec_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    for _ in range(3):
        assert callback(rec_app, sid(2), standin.media_url(sid(2))) == 200
    assert row(database, sid(2)).state == "stored"
    assert media_gets(standin) == 1


@pytest.mark.parametrize("status", ["absent", "failed"])
def test_absent_and_failed_are_recorded_not_fetched(
    rec_app: Flask, database: Database, standin: TwilioStandIn, status: str
) -> None:
    callback(rec_app, sid(3), standin.media_url(sid(3)), status=status)
    assert row(database, sid(3)).state == ("absent" if status == "absent" else "failed")
    assert media_gets(standin) == 0


def test_wrong_credentials_leave_the_recording_pending(
    make_app: Callable[..., Flask], database: Database, standin: TwilioStandIn, tmp_path: Path
) -> None:
    app = make_app(twilio_api_base_url=standin.base_url, recordings_dir=tmp_path,
                   twilio_api_key_sid="SK" + "1" * 32, twilio_api_key_secret="wrong")  # fmt: skip
    callback(app, sid(4), standin.media_url(sid(4)))
    pending = row(database, sid(4))
    assert pending.state == "pending" and pending.attempts == 1
    assert [ok for _, _, ok in standin.requests] == [False]


def test_server_errors_are_retried_until_it_works(
    rec_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    standin.behaviours[sid(5)] = Behaviour(failures=2)
    callback(rec_app, sid(5), standin.media_url(sid(5)))
    assert row(database, sid(5)).state == "pending"
    with rec_app.app_context():
        from recordings.fetch import TransientFetchError

        with pytest.raises(TransientFetchError, match="500"):
            fetch_recording(sid(5))  # what RQ's retry does, by hand
        assert fetch_recording(sid(5)) == "stored"
    assert row(database, sid(5)).attempts == 3


def test_a_truncated_body_is_retried_and_leaves_no_file(
    rec_app: Flask, database: Database, standin: TwilioStandIn, tmp_path: Path
) -> None:
    standin.behaviours[sid(6)] = Behaviour(truncate=True)
    callback(rec_app, sid(6), standin.media_url(sid(6)))
    assert row(database, sid(6)).state == "pending"
    root = tmp_path / "recordings"
    assert not [p for p in root.rglob("*") if p.is_file()]
    standin.behaviours[sid(6)] = Behaviour()
    with rec_app.app_context():
        assert fetch_recording(sid(6)) == "stored"


def test_a_slow_answer_times_out_and_stays_pending(
    rec_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    standin.behaviours[sid(7)] = Behaviour(delay_s=3.0)
    callback(rec_app, sid(7), standin.media_url(sid(7)))
    assert row(database, sid(7)).state == "pending"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/html", None), ("audio/x-wav", b"<html>not audio at all</html>")],
    ids=["wrong content type", "not a wav"],
)
def test_a_body_that_is_not_audio_fails_for_good(
    rec_app: Flask,
    database: Database,
    standin: TwilioStandIn,
    content_type: str,
    body: bytes | None,
) -> None:
    standin.behaviours[sid(8)] = Behaviour(content_type=content_type, body=body)
    callback(rec_app, sid(8), standin.media_url(sid(8)))
    failed = row(database, sid(8))
    assert failed.state == "failed" and failed.last_error


def test_media_from_any_other_host_is_refused_and_logged(
    rec_app: Flask, database: Database, standin: TwilioStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        callback(rec_app, sid(9), "http://169.254.169.254/latest/meta-data/iam")
    refused = row(database, sid(9))
    assert refused.state == "failed" and "refused" in (refused.last_error or "")
    assert "foreign host" in caplog.text
    assert standin.requests == []


def test_twilios_copy_is_deleted_only_after_ours_is_stored(
    make_app: Callable[..., Flask], database: Database, standin: TwilioStandIn, tmp_path: Path
) -> None:
    app = make_app(twilio_api_base_url=standin.base_url, recordings_dir=tmp_path,
                   recordings_delete_from_twilio=True)  # fmt: skip
    standin.behaviours[sid(10)] = Behaviour(truncate=True)
    callback(app, sid(10), standin.media_url(sid(10)))
    assert standin.deleted == []
    standin.behaviours[sid(10)] = Behaviour()
    with app.app_context():
        fetch_recording(sid(10))
    assert standin.deleted == [sid(10)]
    assert row(database, sid(10)).twilio_deleted_at is not None


def test_an_agent_call_recording_joins_the_calls_ticket(
    rec_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    ticket = make_ticket(database)
    with UnitOfWork(database) as uow:
        call = Call(call_sid=CALL_SID, from_raw="+66812345678")
        uow.session.add(call)
        uow.session.flush()
        uow.session.execute(call_tickets.insert().values(call_id=call.id, ticket_id=ticket.id))
        uow.commit()
    callback(rec_app, sid(11), standin.media_url(sid(11)))
    assert row(database, sid(11)).ticket_id == ticket.id


def test_the_sweeper_fetches_what_was_left_pending(
    rec_app: Flask, database: Database, standin: TwilioStandIn
) -> None:
    standin.behaviours[sid(12)] = Behaviour(failures=1)
    callback(rec_app, sid(12), standin.media_url(sid(12)))
    assert row(database, sid(12)).state == "pending"
    rt = runtime(rec_app)
    assert sweep(rt) == 0  # not stale yet
    with rec_app.app_context():
        assert sweep(rt, now=utcnow() + timedelta(hours=1)) == 1
        assert isinstance(rt.jobs, InlineJobs)
        rt.jobs.join()
    assert row(database, sid(12)).state == "stored"


def test_purge_removes_the_audio_and_keeps_the_record(
    rec_app: Flask, database: Database, standin: TwilioStandIn, tmp_path: Path
) -> None:
    callback(rec_app, sid(13), standin.media_url(sid(13)))
    stored = row(database, sid(13))
    path = tmp_path / "recordings" / (stored.storage_key or "")
    assert path.is_file()
    rt = runtime(rec_app)
    later = utcnow() + timedelta(days=40)
    assert purge(rt, 30, dry_run=True, now=later).due == 1 and path.is_file()
    assert purge(rt, 60, now=later).purged == 0
    report = purge(rt, 30, now=later)
    assert report.purged == 1 and not path.exists()
    purged = row(database, sid(13))
    assert purged.state == "purged" and purged.purged_at and purged.sha256 == stored.sha256
    with UnitOfWork(database) as uow:
        audit = uow.session.scalars(select(AuditEvent).where(AuditEvent.entity_id == sid(13))).one()
        assert audit.action == "recording.purge"
    assert purge(rt, 30, now=later).purged == 0  # nothing twice
