"""Twilio request signatures, checked by the router on every /twilio/* request.

The signature covers the exact URL Twilio requested. Behind a TLS-terminating proxy the app sees
``http://internal:8000/…``, so the router rebuilds the URL from PUBLIC_BASE_URL plus the path and
the raw query string, which is what Twilio signed.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from twilio.request_validator import RequestValidator

from config import Settings

log = logging.getLogger(__name__)


class SignatureCheck:
    """``X-Twilio-Signature`` against the auth token; off only in the embedded demo."""

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.twilio_signature_check
        self._validator = RequestValidator(settings.twilio_auth_token)

    def valid(self, url: str, form: Mapping[str, str], signature: str) -> bool:
        """RequestValidator's signature of the exact public URL, computed once.

        Not its ``validate``: that computes it twice more on a miss (with and without the port)
        and so triples what a forged request costs. The URL is PUBLIC_BASE_URL plus the path,
        exactly what Twilio is configured with and signs; form webhooks carry no body hash."""
        expected = self._validator.compute_signature(url, form)
        return hmac.compare_digest(expected, signature)


def log_rejected(signature: str, path: str, form: Mapping[str, str]) -> None:
    """The log line of every refused Twilio request."""
    log.warning(
        "rejected Twilio webhook with %s signature: %s",
        "a wrong" if signature else "no",
        path,
        extra={"call_sid": form.get("CallSid")},
    )


class NoSessionForWebhooks(SecureCookieSessionInterface):
    """Twilio carries no cookies we need: no session cookie work on /twilio/* (a path the
    router does not serve still reaches Flask, for its 404)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith("/twilio/"):
            return None  # Flask then uses a null session and saves nothing
        return super().open_session(app, request)
