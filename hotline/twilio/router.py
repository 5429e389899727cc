"""Every /twilio/* URL, answered by one router in front of Flask, under one failure policy.

Voice, the agent's leg, messaging and recording status (and, in the embedded demo, the
simulated queue) are all routes of this WSGI router; every other path goes on to Flask
unchanged. The policy, the same for every route: any method but POST gets 405; no signature
gets 403 before the body is read; a body over MAX_BODY_BYTES or with more than MAX_FIELDS fields
gets 413 before it is parsed; a wrong signature gets 403 and a log line; a malformed SID
(AccountSid, CallSid, RecordingSid, …) gets 400 and a log line; the request
id and the call SID tag the log lines; whatever fails inside a handler is logged and answered
with that route's safe answer, never a 5xx, an HTML page or an empty body.

Why not Flask: every step of every call is one of these requests, and a step's own work is
small; Flask's request machinery (contexts, URL matching, every blueprint's hooks, the session
and CSRF checks) cost more than the step itself (docs/operations.md has the figures).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote

from werkzeug.exceptions import RequestEntityTooLarge

from config.logging import log_context
from hotline.twilio.security import log_rejected
from ivr_flows.twiml import EMPTY_TWIML

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

log = logging.getLogger(__name__)
URLENCODED = "application/x-www-form-urlencoded"
XML = "text/xml; charset=utf-8"
# The most fields a webhook may carry (Twilio's richest, a voice call's first request, has about
# 40) and the largest body: an SMS of 1,600 Thai characters, percent-encoded, is about 15 KiB.
MAX_FIELDS = 200
MAX_BODY_BYTES = 64 * 1024


class Fields(dict[str, str]):
    """Form or query fields: the first value of each name, as Flask's ``request.form.get``
    gives; ``getlist`` gives every value (RequestValidator signs them all). A plain dict: a
    missing name costs no exception object, unlike Werkzeug's MultiDict."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        super().__init__()
        self._more: dict[str, list[str]] = {}
        for name, value in pairs:
            if name not in self:
                self[name] = value
            else:
                self._more.setdefault(name, [self[name]]).append(value)

    def getlist(self, name: str) -> list[str]:
        if name in self._more:
            return list(self._more[name])
        return [self[name]] if name in self else []

    # RequestValidator asks for ``getall`` (multidict's and WebOb's name) first and falls back
    # to ``getlist`` on AttributeError: answering it directly halves the signature check's cost.
    getall = getlist


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """What a handler may read of Twilio's request: the path, the form and the query."""

    path: str
    form: Mapping[str, str]
    args: Mapping[str, str]

    @property
    def call_sid(self) -> str:
        return self.form.get("CallSid", "")


Handler = Callable[[WebhookRequest], str]


@dataclass(frozen=True, slots=True)
class Route:
    """A webhook: its handler, the answer Twilio gets if the handler fails, and their type."""

    handler: Handler
    on_failure: Callable[[WebhookRequest], str]
    content_type: str = XML


def no_answer(_request: WebhookRequest) -> str:
    """The answer of a callback that needs none (status callbacks, a failed one included)."""
    return EMPTY_TWIML


class TwilioWebhooks:
    """WSGI middleware: requests to ``routes`` are answered here, every other path by ``app``."""

    def __init__(
        self,
        app: WSGIApplication,
        routes: Mapping[str, Route],
        *,
        public_base_url: str,
        verify: Callable[[str, Mapping[str, str], str], bool] | None,  # (url, form, signature)
        max_content_length: int | None,  # None: no limit, as in Flask
        max_fields: int = MAX_FIELDS,
    ) -> None:
        self.app = app
        self.routes = dict(routes)
        self._base = public_base_url.rstrip("/")
        self._verify = verify  # None: the check is off (embedded demo only; the app warned)
        self._max_length = max_content_length
        self._max_fields = max_fields

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self.routes)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        route = self.routes.get(environ.get("PATH_INFO", ""))
        if route is None:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD") != "POST":
            allow = [("Allow", "POST")]
            return _plain(start_response, "405 Method Not Allowed", "Method not allowed", allow)
        path, query = environ["PATH_INFO"], environ.get("QUERY_STRING", "")
        if self._verify is not None and not environ.get("HTTP_X_TWILIO_SIGNATURE"):
            # Unsigned: refused before its body is read or parsed (that is all it would cost).
            log_rejected("", path, {})
            return _plain(start_response, "403 Forbidden", "Forbidden")
        try:
            form = self._form(environ)
        except RequestEntityTooLarge:
            return _plain(start_response, "413 Request Entity Too Large", "Request too large")
        if not self._signed(environ, path, query, form):
            return _plain(start_response, "403 Forbidden", "Forbidden")
        malformed = malformed_sid(form)
        if malformed is not None:
            log.warning("refused Twilio webhook %s: malformed %s", path, malformed)
            return _plain(start_response, "400 Bad Request", "Bad request")
        request = WebhookRequest(path, form, Fields(parse_form(query, errors="replace")))
        body = self._answer(route, request).encode()
        headers = [("Content-Type", route.content_type), ("Content-Length", str(len(body)))]
        start_response("200 OK", headers)
        return [body]

    def _form(self, environ: WSGIEnvironment) -> Fields:
        """The url-encoded form, read as Werkzeug would: the declared length (or, for a chunked
        body, to its end), at most MAX_CONTENT_LENGTH; an undecodable body is no form."""
        declared, limit = environ.get("CONTENT_LENGTH", ""), self._max_length
        if limit is not None and declared.isdigit() and int(declared) > limit:
            raise RequestEntityTooLarge()
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        if mimetype != URLENCODED:
            return Fields(())
        if declared.isdigit():
            raw = environ["wsgi.input"].read(int(declared))
        elif environ.get("wsgi.input_terminated"):
            raw = environ["wsgi.input"].read(-1 if limit is None else limit + 1)
            if limit is not None and len(raw) > limit:
                raise RequestEntityTooLarge()
        else:
            return Fields(())
        # Counted before parsing: a body of a hundred thousand empty fields is small but costs
        # seconds to parse and sign. Twilio sends a few dozen.
        if raw.count(b"&") >= self._max_fields:
            raise RequestEntityTooLarge()
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            return Fields(())
        return Fields(parse_form(text))

    def _signed(self, environ: WSGIEnvironment, path: str, query: str, form: Fields) -> bool:
        if self._verify is None:
            return True
        signature = environ.get("HTTP_X_TWILIO_SIGNATURE", "")
        url = self._base + path + (f"?{query}" if query else "")
        if signature and self._verify(url, form, signature):
            return True
        log_rejected(signature, path, form)
        return False

    @staticmethod
    def _answer(route: Route, request: WebhookRequest) -> str:
        with log_context(call_sid=request.call_sid or None):
            try:
                return route.handler(request)
            except Exception:
                log.exception("Twilio webhook %s failed; answering safely", request.path)
                return route.on_failure(request)


# Every SID Twilio sends to our webhooks, by field: two letters naming its kind and 32
# lowercase hex digits (Twilio's documented shape). A SID becomes a file name, a job id and a
# REST URL: one that is not of this shape is refused before a handler sees it.
SID_PREFIXES: dict[str, tuple[str, ...]] = {
    "AccountSid": ("AC",),
    "CallSid": ("CA",),
    "ParentCallSid": ("CA",),
    "DialCallSid": ("CA",),
    "DequeingCallSid": ("CA",),
    "RecordingSid": ("RE",),
    "QueueSid": ("QU",),
    "ConferenceSid": ("CF",),
    "TranscriptionSid": ("TR",),
    "ApplicationSid": ("AP",),
    "MessagingServiceSid": ("MG",),
    "MessageSid": ("SM", "MM"),
    "SmsSid": ("SM", "MM"),
    "SmsMessageSid": ("SM", "MM"),
}
_HEX = frozenset("0123456789abcdef")


def is_sid(value: str, prefixes: tuple[str, ...]) -> bool:
    return len(value) == 34 and value[:2] in prefixes and _HEX.issuperset(value[2:])


def malformed_sid(form: Mapping[str, str]) -> str | None:
    """The name of the first SID field (present and not empty) that is not of its shape."""
    for name, prefixes in SID_PREFIXES.items():
        value = form.get(name)
        if value and not is_sid(value, prefixes):
            return name
    return None


def parse_form(text: str, errors: str = "werkzeug.url_quote") -> list[tuple[str, str]]:
    """``parse_qsl(text, keep_blank_values=True, errors=errors)``, without its per-field
    function calls: a field with no ``+`` or ``%`` (most of what Twilio sends) is split and
    kept as it is. Undecodable escapes are kept as Werkzeug keeps them (its error handler)."""
    pairs = []
    for field in text.split("&"):
        if not field:
            continue
        name, _, value = field.partition("=")
        if "+" in field:
            name, value = name.replace("+", " "), value.replace("+", " ")
        if "%" in field:
            name, value = unquote(name, errors=errors), unquote(value, errors=errors)
        pairs.append((name, value))
    return pairs


def _plain(
    start_response: StartResponse, status: str, text: str, headers: Iterable[tuple[str, str]] = ()
) -> list[bytes]:
    body = text.encode()
    length = ("Content-Length", str(len(body)))
    start_response(status, [("Content-Type", "text/plain"), length, *headers])
    return [body]
