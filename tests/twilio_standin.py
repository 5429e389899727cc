"""A local stand-in for Twilio's REST API and recording media (Twilio itself is unreachable).

Serves ``GET /2010-04-01/Accounts/{AC}/Recordings/{RE}`` with HTTP Basic auth checked, and
records ``DELETE …/Recordings/{RE}.json``. Each SID can be told to misbehave: answer slowly,
fail with 500 a number of times, cut the body short, or send the wrong content type.
"""

from __future__ import annotations

import base64
import json
import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from hotline.demo.phone import tone_wav
from tests.local_server import serve, stop, url_of

UNSUBSCRIBED = 21610
RECORDING_PATH = re.compile(
    r"^/2010-04-01/Accounts/(AC\w+)/Recordings/(RE[0-9a-fA-F]{32})(\.json|\.wav|\.mp3)?$"
)


def wav_bytes(seconds: float = 2.0, rate: int = 8000) -> bytes:
    """A real mono 16-bit WAV file, ``seconds`` long."""
    return tone_wav(seconds, rate)


@dataclass
class Behaviour:
    delay_s: float = 0.0
    failures: int = 0  # answer 500 this many times first
    truncate: bool = False
    content_type: str = "audio/x-wav"
    body: bytes | None = None


@dataclass
class TwilioStandIn:
    account_sid: str
    auth_token: str
    media: bytes = field(default_factory=wav_bytes)
    behaviours: dict[str, Behaviour] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    calls: list[dict[str, str]] = field(default_factory=list)
    # Twilio's own call records, as its Calls list serves them (``call_record`` builds one).
    call_records: list[dict[str, object]] = field(default_factory=list)
    unsubscribed: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # method, path, auth ok
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return url_of(self._server)

    def media_url(self, sid: str) -> str:
        return f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}"

    def start(self) -> TwilioStandIn:
        self._server = serve(self.handle)
        return self

    def stop(self) -> None:
        stop(self._server)

    def authorised(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return header == f"Basic {expected}"

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        ok = self.authorised(handler.headers.get("Authorization"))
        self.requests.append((method, handler.path, ok))
        match = RECORDING_PATH.match(handler.path)
        if not ok:
            return _send(
                handler, 401, b'{"code": 20003, "message": "Authenticate"}', "application/json"
            )
        if method == "POST" and handler.path.endswith("/Messages.json"):
            return self.create_message(handler)
        if method == "POST" and handler.path.endswith("/Calls.json"):
            return self.create_call(handler)
        if method == "GET" and handler.path.partition("?")[0].endswith("/Calls.json"):
            return self.list_calls(handler)
        if match is None:
            return _send(handler, 404, b'{"code": 20404}', "application/json")
        sid = match.group(2)
        if method == "DELETE":
            self.deleted.append(sid)
            return _send(handler, 204, b"", "application/json")
        self.serve_media(handler, sid)
        return None

    def create_message(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        if form.get("To") in self.unsubscribed:
            error = {"code": UNSUBSCRIBED, "message": "Attempt to send to unsubscribed recipient",
                     "status": 400}  # fmt: skip
            return _send(handler, 400, json.dumps(error).encode(), "application/json")
        sid = "SM" + f"{len(self.messages):032x}"
        self.messages.append({**form, "Sid": sid})
        answer = {"sid": sid, "status": "queued", "to": form.get("To"), "body": form.get("Body"),
                  "account_sid": self.account_sid}  # fmt: skip
        return _send(handler, 201, json.dumps(answer).encode(), "application/json")

    def create_call(self, handler: BaseHTTPRequestHandler) -> None:
        """An outbound call (an agent's own phone rung to bridge the queue)."""
        length = int(handler.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        sid = "CA" + f"{len(self.calls):032x}"
        self.calls.append({**form, "Sid": sid})
        answer = {"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                  "account_sid": self.account_sid}  # fmt: skip
        return _send(handler, 201, json.dumps(answer).encode(), "application/json")

    def list_calls(self, handler: BaseHTTPRequestHandler) -> None:
        """The Calls list, one page (StartTime>= honoured as Twilio does, by date and time)."""
        query = {k: v[0] for k, v in parse_qs(handler.path.partition("?")[2]).items()}
        after = query.get("StartTime>")
        since = datetime.fromisoformat(after.replace("Z", "+00:00")) if after else None
        calls = [
            c
            for c in self.call_records
            if since is None or parsedate_to_datetime(str(c["start_time"])) >= since
        ]
        page = {"calls": calls, "next_page_uri": None, "page": 0, "page_size": 1000,
                "uri": handler.path}  # fmt: skip
        return _send(handler, 200, json.dumps(page).encode(), "application/json")

    def serve_media(self, handler: BaseHTTPRequestHandler, sid: str) -> None:
        behaviour = self.behaviours.setdefault(sid, Behaviour())
        if behaviour.delay_s:
            time.sleep(behaviour.delay_s)
        if behaviour.failures > 0:
            behaviour.failures -= 1
            return _send(handler, 500, b'{"code": 20500}', "application/json")
        body = behaviour.body if behaviour.body is not None else self.media
        if behaviour.truncate:
            handler.send_response(200)
            handler.send_header("Content-Type", behaviour.content_type)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body[: len(body) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            return None
        return _send(handler, 200, body, behaviour.content_type)


def _send(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if body:
        handler.wfile.write(body)


def call_record(
    sid: str, start: datetime, end: datetime | None, status: str, **fields: object
) -> dict[str, object]:
    """One of Twilio's call records, as the REST Calls list gives it."""
    return {"sid": sid, "from": "+66812345678", "to": "+6621001567", "direction": "inbound",
            "parent_call_sid": None, "status": status, "start_time": format_datetime(start),
            "end_time": format_datetime(end) if end else None,
            "duration": str(int((end - start).total_seconds())) if end else None,
            **fields}  # fmt: skip
