"""Captured Twilio payloads (fixtures/<integration>/<case>.txt), posted signed like Twilio.

A fixture is the exact ``application/x-www-form-urlencoded`` body Twilio sends; ``payload``
reads it into its fields (in the body's order) and lets a test change some (``None`` drops a
field). ``signed_post`` posts fields to a URL with the ``X-Twilio-Signature`` Twilio would compute
for that URL and body. ``CallWalk`` walks one call from ``/twilio/voice`` as Twilio does: each
answer's TwiML gives the next URL, sealed state and all, and every answer is checked
(tests/webhooks/twiml_check.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from hotline.demo.phone import Exchange
from hotline.models import metadata
from tests.voice import AUTH_TOKEN, BASE_URL
from tests.webhooks.twiml_check import check_exchange
from ticketing.db.engine import Database

FIXTURES = Path(__file__).with_name("fixtures")
URLENCODED = "application/x-www-form-urlencoded"


def fixture_names(integration: str = "") -> list[str]:
    """Every fixture as ``integration/case``, sorted; only one integration's if named."""
    root = FIXTURES / integration if integration else FIXTURES
    return sorted(str(p.relative_to(FIXTURES).with_suffix("")) for p in root.rglob("*.txt"))


def raw_body(name: str) -> str:
    return (FIXTURES / f"{name}.txt").read_text(encoding="utf-8").removesuffix("\n")


def payload(name: str, **changes: str | None) -> dict[str, str]:
    """The fixture's fields; each change replaces a field's value or, given None, drops it."""
    fields = dict(parse_qsl(raw_body(name), keep_blank_values=True, strict_parsing=True))
    for field, value in changes.items():
        if value is None:
            fields.pop(field, None)
        else:
            fields[field] = value
    return fields


def signed_post(
    client: FlaskClient, url: str, params: dict[str, str], token: str = AUTH_TOKEN
) -> TestResponse:
    """POST ``params`` url-encoded to ``url``'s path and query, signed as Twilio signs it."""
    signature = RequestValidator(token).compute_signature(url, params)
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return client.post(path, data=urlencode(params), content_type=URLENCODED,
                       headers={"X-Twilio-Signature": signature})  # fmt: skip


def verbs(body: str) -> list[str]:
    return [element.tag for element in fromstring(body)]


def said(body: str) -> str:
    return " ".join(e.text or "" for e in fromstring(body).iter("Say"))


@dataclass(frozen=True)
class Answer:
    """One webhook request and the app's answer to it."""

    url: str
    params: dict[str, str]
    status: int
    mimetype: str
    body: str

    @property
    def verbs(self) -> list[str]:
        return verbs(self.body)

    @property
    def said(self) -> str:
        return said(self.body)

    def elements(self, tag: str) -> Iterator[Element]:
        return fromstring(self.body).iter(tag)

    def url_of(self, tag: str, attribute: str) -> str:
        """The URL an element of the answer sends Twilio to next (the first such element)."""
        for element in self.elements(tag):
            url = element.get(attribute)
            if url:
                return url
        raise AssertionError(f"no <{tag} {attribute}> in {self.body}")


def post(app: Flask, url: str, params: dict[str, str], *, check: bool = True) -> Answer:
    """Post signed; a voice answer is checked like Twilio's parser would (and stricter)."""
    response = signed_post(app.test_client(), url, params)
    answer = Answer(url, params, response.status_code, response.mimetype,
                    response.get_data(as_text=True))  # fmt: skip
    if check:
        check_exchange(app, Exchange(url, params, answer.status, answer.body), BASE_URL)
    return answer


def post_fixture(app: Flask, url: str, name: str, **changes: str | None) -> Answer:
    return post(app, url, payload(name, **changes))


class CallWalk:
    """One caller's call, walked from /twilio/voice: the next URL always comes from the last
    answer's TwiML, so the sealed state is the one the IVR itself gave."""

    def __init__(self, app: Flask, **fields: str) -> None:
        self.app = app
        self.fields = fields  # the same on every request of the call (CallSid, From…)
        self.last: Answer | None = None

    def post(self, url: str, name: str, **changes: str | None) -> Answer:
        self.last = post_fixture(self.app, url, name, **{**self.fields, **changes})
        return self.last

    def next_url(self, tag: str, attribute: str = "action") -> str:
        assert self.last is not None, "the call has not started"
        return self.last.url_of(tag, attribute)

    def start(self) -> Answer:
        return self.post(f"{BASE_URL}/twilio/voice", "voice/incoming_call")

    def press(self, digits: str) -> Answer:
        """Keys on the current <Gather> (a trailing # ends the input and is not sent)."""
        finished = "#" if digits.endswith("#") else ""
        return self.post(self.next_url("Gather"), "voice/gather_digits",
                         Digits=digits.removesuffix("#"), FinishedOnKey=finished)  # fmt: skip

    def speak(self, words: str) -> Answer:
        return self.post(self.next_url("Gather"), "voice/gather_speech", SpeechResult=words)

    def walk(self, *keys: str) -> Answer:
        answer = self.start()
        for digits in keys:
            answer = self.press(digits)
        return answer


def row_counts(database: Database) -> dict[str, int]:
    """How many rows every table holds (reference tables too: a webhook never adds any)."""
    with database.engine.connect() as conn:
        return {table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for table in metadata.sorted_tables}  # fmt: skip


def replay(app: Flask, database: Database, answer: Answer, *, check: bool = True) -> Answer:
    """Twilio sends the same request again (a retry): no row is added or removed, and the
    caller hears the same thing."""
    before = row_counts(database)
    again = post(app, answer.url, answer.params, check=check)
    assert row_counts(database) == before, f"a replay of {answer.url} changed the rows"
    assert (again.status, again.verbs, again.said) == (answer.status, answer.verbs, answer.said)
    return again
