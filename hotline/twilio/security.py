"""Twilio request signatures and the TwiML response helper.

The signature covers the exact URL Twilio requested. Behind a TLS-terminating proxy Flask sees
``http://internal:8000/…``, so the URL is rebuilt from PUBLIC_BASE_URL plus the path and the raw
query string, which is what Twilio signed.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Request, Response, abort, current_app, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

from config import Settings
from config.logging import log_context
from ivr_flows.twiml import Response as TwimlDocument

log = logging.getLogger(__name__)
XML = "text/xml; charset=utf-8"
SIGNATURE_KEY = "hotline.twilio-signature"
ViewF = TypeVar("ViewF", bound=Callable[..., Response])


def public_url(settings: Settings) -> str:
    query = request.query_string.decode("latin-1")
    url = settings.public_base_url.rstrip("/") + request.path
    return f"{url}?{query}" if query else url


class SignatureCheck:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._validator = RequestValidator(settings.twilio_auth_token)

    def __call__(self) -> None:
        """A before_request hook: 403 for a missing or wrong X-Twilio-Signature."""
        if not self._settings.twilio_signature_check:
            return
        signature = request.headers.get("X-Twilio-Signature", "")
        url = public_url(self._settings)
        if not signature or not self.valid(url, request.form, signature):
            log_rejected(signature, request.path, request.form)
            abort(403)

    def valid(self, url: str, form: Mapping[str, str], signature: str) -> bool:
        """RequestValidator's signature of the exact public URL first (one HMAC, the usual case);
        its full ``validate`` (with and without the port, JSON body hashes) only if that misses."""
        expected = self._validator.compute_signature(url, form)
        if hmac.compare_digest(expected, signature):
            return True
        return bool(self._validator.validate(url, form, signature))


def log_rejected(signature: str, path: str, form: Mapping[str, str]) -> None:
    """The log line of every refused Twilio request, whichever road it came in by."""
    log.warning(
        "rejected Twilio webhook with %s signature: %s",
        "a wrong" if signature else "no",
        path,
        extra={"call_sid": form.get("CallSid")},
    )


def check_twilio_signature() -> None:
    """before_request hook of every Twilio-facing blueprint (the app's own SignatureCheck)."""
    check: SignatureCheck = current_app.extensions[SIGNATURE_KEY]
    check()


def never_fails(fallback: Callable[[], Response]) -> Callable[[ViewF], ViewF]:
    """Wrap a Twilio webhook: whatever fails inside, Twilio gets ``fallback()``, never a 5xx,
    an HTML error page or silence. The failure is logged with the call SID."""

    def decorate(view: ViewF) -> ViewF:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            call_sid = request.form.get("CallSid", "")
            with log_context(call_sid=call_sid or None):
                try:
                    return view(*args, **kwargs)
                except Exception:
                    log.exception("Twilio webhook %s failed; answering safely", request.path)
                    return fallback()

        return wrapper  # type: ignore[return-value]

    return decorate


def twiml(response: TwimlDocument | VoiceResponse | str) -> Response:
    return Response(str(response), status=200, mimetype="text/xml", content_type=XML)


EMPTY_TWIML = str(VoiceResponse())  # built once: the answer to every status callback


def empty_twiml() -> Response:
    return twiml(EMPTY_TWIML)


class NoSessionForWebhooks(SecureCookieSessionInterface):
    """Twilio carries no cookies we need: skip the session cookie's work on /twilio/*."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/twilio/"):
            return None  # Flask then uses a null session and saves nothing
        return super().open_session(app, request)
