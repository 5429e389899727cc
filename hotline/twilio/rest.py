"""The one door to Twilio's REST API and media: its base URL is a setting.

In production the base is https://api.twilio.com; tests and the phone simulator put a local
stand-in there. Media is downloaded only from that host (SSRF guard: a RecordingUrl naming any
other host is refused and logged), without following redirects, with HTTP Basic auth. REST calls
go through the official ``twilio`` client with its HTTP requests re-based onto the same host.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client

from config import Settings
from hotline.calls.reconcile import TwilioCall
from recordings.fetch import Download, PermanentFetchError, TransientFetchError

log = logging.getLogger(__name__)
TWILIO_API = "https://api.twilio.com"
CONNECT_TIMEOUT_S, READ_TIMEOUT_S = 5.0, 30.0


class RebasedHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The twilio client's HTTP layer, pointed at TWILIO_API_BASE_URL instead of api.twilio.com."""

    def __init__(self, base_url: str, timeout_s: float = READ_TIMEOUT_S) -> None:
        super().__init__(timeout=timeout_s)
        self._base = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        if url.startswith(TWILIO_API):
            url = self._base + url[len(TWILIO_API) :]
        response: TwilioResponse = super().request(method, url, *args, **kwargs)
        return response


class TwilioApi:
    def __init__(self, settings: Settings, session: requests.Session | None = None) -> None:
        self._settings = settings
        base = urlsplit(settings.twilio_api_base_url)
        self._scheme, self._host = base.scheme, base.netloc
        self._base_url = settings.twilio_api_base_url.rstrip("/")
        self._session = session or requests.Session()
        self._client: Client | None = None

    @property
    def auth(self) -> tuple[str, str]:
        """An API key when configured, else the account SID and auth token."""
        s = self._settings
        if s.twilio_api_key_sid and s.twilio_api_key_secret:
            return s.twilio_api_key_sid, s.twilio_api_key_secret
        return s.twilio_account_sid, s.twilio_auth_token

    def client(self) -> Client:
        if self._client is None:
            username, password = self.auth
            self._client = Client(
                username, password, account_sid=self._settings.twilio_account_sid,
                http_client=RebasedHttpClient(self._base_url, self._settings.twilio_http_timeout_s),
            )  # fmt: skip
        return self._client

    # Calls ---------------------------------------------------------------------------------

    def calls_since(self, since: datetime) -> list[TwilioCall]:
        """Twilio's records of the calls started since ``since`` (every page)."""
        return [
            TwilioCall(
                sid=c.sid or "",
                from_=c._from or "",
                to=c.to or "",
                start=c.start_time,
                end=c.end_time,
                duration=c.duration,
                status=str(c.status or ""),
                direction=c.direction or "",
                parent_sid=c.parent_call_sid,
            )
            for c in self.client().calls.stream(start_time_after=since, page_size=1000)
        ]

    # Media ---------------------------------------------------------------------------------

    def check_media_url(self, url: str) -> None:
        """Refuse any URL not on the configured Twilio host (SSRF guard)."""
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != (self._scheme, self._host) or parts.username:
            log.error("refused to fetch media from a foreign host: %s", parts.netloc or url[:80])
            raise PermanentFetchError(f"media URL not on {self._host}: refused")

    @contextmanager
    def download(self, url: str) -> Iterator[Download]:
        self.check_media_url(url)
        try:
            timeout = self._settings.twilio_http_timeout_s
            response = self._session.get(
                url, auth=self.auth, stream=True, allow_redirects=False,
                timeout=(min(CONNECT_TIMEOUT_S, timeout), timeout),
            )  # fmt: skip
        except requests.RequestException as exc:
            raise TransientFetchError(f"could not reach Twilio: {type(exc).__name__}") from exc
        with response:
            length = response.headers.get("Content-Length")
            yield Download(
                status=response.status_code,
                content_type=response.headers.get("Content-Type", ""),
                length=int(length) if length and length.isdecimal() else None,
                chunks=_body(response),
            )

    # REST ------------------------------------------------------------------------------------

    def delete_recording(self, sid: str) -> None:
        self.client().recordings(sid).delete()

    def send_sms(self, to: str, body: str, status_callback: str) -> str:
        """Send through the Messaging Service if configured, else from TWILIO_SMS_FROM; the SID."""
        sender: dict[str, str] = {}
        if self._settings.twilio_messaging_service_sid:
            sender["messaging_service_sid"] = self._settings.twilio_messaging_service_sid
        elif self._settings.twilio_sms_from:
            sender["from_"] = self._settings.twilio_sms_from
        else:
            raise SmsNotConfiguredError("set TWILIO_MESSAGING_SERVICE_SID or TWILIO_SMS_FROM")
        message = self.client().messages.create(to=to, body=body, status_callback=status_callback,
                                                **sender)  # fmt: skip
        sid: str = message.sid
        return sid


class SmsNotConfiguredError(RuntimeError):
    """No sender is configured: citizen SMS stay in the outbox until one is."""


def _body(response: requests.Response) -> Iterator[bytes]:
    try:
        yield from response.iter_content(chunk_size=64 * 1024)
    except (requests.RequestException, OSError) as exc:
        raise TransientFetchError(f"download interrupted: {type(exc).__name__}") from exc
