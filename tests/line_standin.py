"""A local stand-in for LINE's Messaging API (LINE itself is unreachable from tests).

Serves ``POST /v2/bot/message/reply``, ``POST /v2/bot/message/push`` and
``GET /v2/bot/message/{id}/content`` with the channel access token checked (Bearer), records
every reply and push, and serves the content it was given per message id. A reply token can be
told to be spent (LINE answers 400), and content to fail a number of times (500).

``sign`` signs a webhook body as LINE does: base64(HMAC-SHA256(channel secret, raw body)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.local_server import serve, stop, url_of

CONTENT_PATH = re.compile(r"^/v2/bot/message/([0-9A-Za-z]+)/content$")
# A 1×1 JPEG: what a phone camera sends, in small.
JPEG = base64.b64decode(
    "/9j/4AAQSkZJRgABAQEASABIAAD/2wBDAAEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
    "AQEBAQEBAQEBAQEBAQEBAQEBAQH/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACv/EABQQAQAAAAAAAAAA"
    "AAAAAAAAAAD/2gAIAQEAAD8AVN//2Q=="
)


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


@dataclass
class Media:
    body: bytes
    content_type: str = "image/jpeg"
    failures: int = 0


@dataclass
class LineStandIn:
    access_token: str
    replies: list[dict[str, Any]] = field(default_factory=list)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    content: dict[str, Media] = field(default_factory=dict)
    spent_tokens: set[str] = field(default_factory=set)
    refuse_pushes: bool = False  # answer pushes 400 (e.g. the citizen blocked the account)
    requests: list[tuple[str, str, bool]] = field(default_factory=list)  # method, path, auth ok
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return url_of(self._server)

    def start(self) -> LineStandIn:
        self._server = serve(self.handle)
        return self

    def stop(self) -> None:
        stop(self._server)

    def wait_for(self, what: str, count: int = 1, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        """The replies or pushes once there are ``count`` of them (LINE's side is async)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = list(getattr(self, what))
            if len(found) >= count:
                return found
            time.sleep(0.02)
        return list(getattr(self, what))

    def texts(self, what: str = "replies") -> list[str]:
        return [m["text"] for r in getattr(self, what) for m in r["messages"]]

    def handle(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        ok = handler.headers.get("Authorization") == f"Bearer {self.access_token}"
        with self._lock:
            self.requests.append((method, handler.path, ok))
        if not ok:
            return _send(handler, 401, {"message": "Authentication failed"})
        if method == "POST":
            length = int(handler.headers.get("Content-Length", "0"))
            body = json.loads(handler.rfile.read(length) or b"{}")
            if handler.path == "/v2/bot/message/reply":
                if body.get("replyToken") in self.spent_tokens:
                    return _send(handler, 400, {"message": "Invalid reply token"})
                with self._lock:
                    self.replies.append(body)
                return _send(handler, 200, {"sentMessages": [{"id": "1", "quoteToken": "q"}]})
            if handler.path == "/v2/bot/message/push":
                if self.refuse_pushes:
                    return _send(handler, 400, {"message": "Failed to send messages"})
                with self._lock:
                    self.pushes.append(body)
                return _send(handler, 200, {"sentMessages": [{"id": "2", "quoteToken": "q"}]})
        match = CONTENT_PATH.match(handler.path)
        if method == "GET" and match is not None:
            media = self.content.get(match.group(1))
            if media is None:
                return _send(handler, 404, {"message": "Not found"})
            if media.failures > 0:
                media.failures -= 1
                return _send(handler, 500, {"message": "Internal error"})
            handler.send_response(200)
            handler.send_header("Content-Type", media.content_type)
            handler.send_header("Content-Length", str(len(media.body)))
            handler.end_headers()
            handler.wfile.write(media.body)
            return None
        return _send(handler, 404, {"message": "Not found"})


def _send(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)
