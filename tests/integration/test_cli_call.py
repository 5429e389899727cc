"""`hotline call` against a running `hotline run`: the demo path a new user takes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline.demo.phone import tone_wav
from recordings.models import Recording
from tests.conftest import free_port
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork

BIN = Path(sys.executable).parent


@pytest.fixture
def server(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path), "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
           "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}  # fmt: skip
    subprocess.run(
        [str(BIN / "hotline"), "db", "upgrade"], env=env, check=True, capture_output=True
    )
    proc = subprocess.Popen([str(BIN / "hotline"), "run", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        yield env
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_scripted_call_files_a_complaint_and_prints_the_conversation(
    server: dict[str, str], tmp_path: Path
) -> None:
    voice = tmp_path / "complaint.wav"
    voice.write_bytes(tone_wav(3.0))
    keys = f"1,1,50200,1,#,record:{voice},2,5"
    result = subprocess.run([str(BIN / "hotline"), "call", "--keys", keys], env=server,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ศูนย์ดำรงธรรม" in result.stdout
    assert "เลขที่เรื่องของท่านคือ" in result.stdout
    assert "ended: hangup" in result.stdout
    # The embedded app played Twilio's media host: the real fetch job stored the caller's words.
    db = Database.connect(f"sqlite:///{tmp_path / 'hotline.sqlite3'}")
    recording = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with UnitOfWork(db) as uow:
            recording = uow.session.scalars(select(Recording)).first()
        if recording is not None and recording.state == "stored":
            break
        time.sleep(0.2)
    db.dispose()
    assert recording is not None and recording.state == "stored", recording and recording.last_error
    assert recording.ticket_id is not None and recording.duration_s == 3
    assert recording.twilio_deleted_at is not None  # the simulated Twilio copy is gone too


def test_a_call_to_a_server_that_is_not_there_fails_clearly(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "INSTANCE_DIR": str(tmp_path),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    result = subprocess.run([str(BIN / "hotline"), "call", "--keys", "1"], env=env,
                            capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert result.returncode == 1 and "the call failed" in result.stderr
