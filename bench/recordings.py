"""Benchmark: the recording pipeline, with a worker killed and Redis flushed mid-run.

Sends 500 signed recording callbacks to the app (PostgreSQL + Redis); one `hotline worker`
fetches 100 KB WAV files from a local Twilio stand-in. Half-way through, the worker is killed
with SIGKILL and Redis is emptied with FLUSHALL; a new worker starts and the sweeper finds what
the queue forgot. Prints one JSON line: recordings stored per second, p50/p99 delay from
callback to stored, and how many were lost. Baseline (same run, same stand-in): plain HTTP
downloads of the same file in a loop. Targets (issue 4): >= 20 recordings/s per worker, 0 lost.

    python bench/recordings.py      # BENCH_RECORDINGS=500
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests
from redis import Redis
from sqlalchemy import create_engine, func, select, text
from twilio.request_validator import RequestValidator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from config import Settings  # noqa: E402
from hotline import create_app  # noqa: E402
from hotline.background.recordings import sweep  # noqa: E402
from hotline.runtime import runtime  # noqa: E402
from recordings.models import Recording  # noqa: E402
from tests.twilio_standin import TwilioStandIn, wav_bytes  # noqa: E402
from ticketing.db.uow import UnitOfWork  # noqa: E402

BIN = Path(sys.executable).parent
TOTAL = int(os.environ.get("BENCH_RECORDINGS", "500"))
DB_NAME = "hotline_bench_recordings"
DATABASE_URL = f"postgresql://postgres@127.0.0.1/{DB_NAME}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
ACCOUNT, TOKEN = "AC" + "0" * 32, "bench-recordings-token"
PUBLIC = "http://hotline.bench"


def prepare() -> None:
    admin = create_engine(
        "postgresql+psycopg://postgres@127.0.0.1/postgres", isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DB_NAME}"'))
    admin.dispose()
    Redis.from_url(REDIS_URL).flushdb()


def env_for(standin: TwilioStandIn, instance: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": REDIS_URL,
        "TWILIO_API_BASE_URL": standin.base_url,
        "TWILIO_AUTH_TOKEN": TOKEN,
        "TWILIO_ACCOUNT_SID": ACCOUNT,
        "INSTANCE_DIR": str(instance),
        "RECORDINGS_SWEEP_AFTER_S": "2",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }


def start_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([str(BIN / "hotline"), "worker", "--queue", "recordings"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # fmt: skip


def baseline(standin: TwilioStandIn, seconds: float = 3.0) -> float:
    """Plain downloads of the same file, one after another: files per second."""
    session, count = requests.Session(), 0
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        response = session.get(standin.media_url("RE" + "f" * 32), auth=(ACCOUNT, TOKEN))
        assert response.status_code == 200 and len(response.content) == len(standin.media)
        count += 1
    return count / seconds


def main() -> None:
    prepare()
    instance = Path(os.environ.get("BENCH_INSTANCE", "/tmp/hotline-bench-recordings"))  # noqa: S108
    standin = TwilioStandIn(ACCOUNT, TOKEN, media=wav_bytes(seconds=6.4)).start()  # ~100 KB
    env = env_for(standin, instance)
    subprocess.run(
        [str(BIN / "hotline"), "db", "upgrade"], env=env, check=True, capture_output=True
    )
    base_rate = baseline(standin)
    settings = Settings(
        database_url=DATABASE_URL,
        redis_url=REDIS_URL,
        public_base_url=PUBLIC,
        twilio_api_base_url=standin.base_url,
        twilio_auth_token=TOKEN,
        instance_dir=instance,
        recordings_sweep_after_s=2,
        log_level="WARNING",
    )
    app = create_app(settings)
    client, validator = app.test_client(), RequestValidator(TOKEN)
    worker = start_worker(env)
    started = time.perf_counter()
    for n in range(TOTAL):
        sid = "RE" + f"{n:032x}"
        params = {"AccountSid": ACCOUNT, "CallSid": "CA" + f"{n:032x}", "RecordingSid": sid,
                  "RecordingUrl": standin.media_url(sid), "RecordingStatus": "completed",
                  "RecordingDuration": "6"}  # fmt: skip
        url = f"{PUBLIC}/twilio/recording-status"
        headers = {"X-Twilio-Signature": validator.compute_signature(url, params)}
        assert (
            client.post("/twilio/recording-status", data=params, headers=headers).status_code == 200
        )
        if n == TOTAL // 2:  # the worst moment: in the middle of the run, lose both
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            Redis.from_url(REDIS_URL).flushall()
            worker = start_worker(env)
        time.sleep(0.01)
    rt = runtime(app)
    deadline = time.monotonic() + 300
    while _stored(rt) < TOTAL and time.monotonic() < deadline:
        time.sleep(2.5)
        with app.app_context():
            sweep(rt)  # what the worker's housekeeping does every minute, sooner
    elapsed = time.perf_counter() - started
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(timeout=60)
    delays = _delays(rt)
    stored = _stored(rt)
    standin.stop()
    print(json.dumps({
        "bench": "recordings",
        "callbacks": TOTAL, "file_bytes": len(standin.media), "workers": 1,
        "stored": stored, "lost": TOTAL - stored,
        "recordings_per_s_per_worker": round(stored / elapsed, 1),
        "baseline_plain_downloads_per_s": round(base_rate, 1),
        "p50_delay_s": round(statistics.median(delays), 2),
        "p99_delay_s": round(sorted(delays)[int(0.99 * (len(delays) - 1))], 2),
        "disruption": f"worker SIGKILL + Redis FLUSHALL at callback {TOTAL // 2}",
        "sweep_after_s": 2,
    }))  # fmt: skip


def _stored(rt: object) -> int:
    with UnitOfWork(rt.db) as uow:  # type: ignore[attr-defined]
        query = select(func.count()).select_from(Recording).where(Recording.state == "stored")
        return int(uow.session.scalar(query) or 0)


def _delays(rt: object) -> list[float]:
    with UnitOfWork(rt.db) as uow:  # type: ignore[attr-defined]
        rows = uow.session.execute(select(Recording.created_at, Recording.stored_at)).all()
    return [(s - c).total_seconds() for c, s in rows if s is not None]


if __name__ == "__main__":
    main()
