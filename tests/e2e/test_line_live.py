"""The observable LINE interfaces against `hotline run` on its embedded default (SQLite, inline
jobs), as an operator's checks would use them: unsigned and wrongly signed posts refused and
nothing written, a signed text message answered through LINE_API_BASE_URL's reply endpoint, and
/track answering a Thai page."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port
from tests.line_standin import LineStandIn, sign

BIN = Path(sys.executable).parent
SECRET, TOKEN = "live-line-secret", "live-line-token"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, LineStandIn, Path]]:
    line = LineStandIn(TOKEN).start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path), "PUBLIC_BASE_URL": url,
           "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING",
           "LINE_CHANNEL_SECRET": SECRET, "LINE_CHANNEL_ACCESS_TOKEN": TOKEN,
           "LINE_API_BASE_URL": line.base_url}  # fmt: skip
    subprocess.run([str(BIN / "hotline"), "db", "upgrade"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    proc = subprocess.Popen([str(BIN / "hotline"), "run", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.1)
        yield url, line, tmp_path / "hotline.sqlite3"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        line.stop()


def post(url: str, body: bytes, signature: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Line-Signature"] = signature
    request = urllib.request.Request(f"{url}/line/webhook", data=body, headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:  # noqa: S310 - our app
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_observable_line_interfaces(server: tuple[str, LineStandIn, Path]) -> None:
    url, line, db_path = server
    event = {
        "type": "message",
        "mode": "active",
        "timestamp": 1765170000000,
        "source": {"type": "user", "userId": "U" + "b" * 32},
        "webhookEventId": "01JLIVE0000000000000000001",
        "replyToken": "live-reply-1",
        "deliveryContext": {"isRedelivery": False},
        "message": {"type": "text", "id": "1", "text": "สวัสดีค่ะ 😀", "quoteToken": "q"},
    }
    body = json.dumps({"destination": "U" + "0" * 32, "events": [event]},
                      ensure_ascii=False).encode()  # fmt: skip
    assert post(url, body, None) in (401, 403)
    assert post(url, body, sign("not-the-secret", body)) in (401, 403)
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM line_events").fetchone() == (0,)
    assert post(url, body, sign(SECRET, body)) == 200
    replies = line.wait_for("replies", 1, timeout_s=5)
    assert len(replies) == 1 and replies[0]["replyToken"] == "live-reply-1"
    assert ("POST", "/v2/bot/message/reply", True) in line.requests
    with urllib.request.urlopen(f"{url}/track", timeout=5) as answer:  # noqa: S310
        page = answer.read().decode()
    assert answer.status == 200 and '<html lang="th">' in page and "ติดตามเรื่อง" in page
