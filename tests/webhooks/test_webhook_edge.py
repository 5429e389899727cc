"""ISSUE #18 at the webhook edge: SIDs of their documented shape (item 2), bodies limited before
they are parsed and the signature computed once (item 13), no demo route in production (14)."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator

import hotline.twilio.router as router_module
from hotline.twilio.router import MAX_FIELDS, SID_PREFIXES, is_sid, malformed_sid
from recordings.models import Recording
from tests.voice import BASE_URL, count
from tests.webhooks.payloads import payload, signed_post
from ticketing.db.engine import Database


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("RecordingSid", "RE../../x"),
        ("RecordingSid", "RE" + "0" * 31 + "/"),
        ("CallSid", "CA" + "0" * 33),
        ("CallSid", "RE" + "0" * 32),  # a recording's SID where a call's belongs
        ("AccountSid", "AC" + "G" * 32),
    ],
)
def test_a_malformed_sid_is_refused_with_400_and_a_log_line(
    voice_app: Flask, database: Database, caplog: pytest.LogCaptureFixture, field: str, value: str
) -> None:
    form = payload("recording/status_completed", **{field: value})
    with caplog.at_level(logging.WARNING):
        response = signed_post(voice_app.test_client(), f"{BASE_URL}/twilio/recording-status", form)
    assert response.status_code == 400
    assert f"refused Twilio webhook /twilio/recording-status: malformed {field}" in caplog.text
    assert value not in caplog.text  # the log names the field, never what was sent
    assert count(database, Recording) == 0


def test_an_unsigned_malformed_sid_gets_403(voice_app: Flask) -> None:
    form = payload("recording/status_completed", RecordingSid="RE../../x")
    response = voice_app.test_client().post("/twilio/recording-status", data=form)
    assert response.status_code == 403


def test_the_sid_shapes_are_twilios() -> None:
    assert is_sid("CA" + "0123456789abcdef" * 2, ("CA",))
    assert not is_sid("CA" + "0123456789ABCDEF" * 2, ("CA",))
    assert malformed_sid({"CallSid": "", "ParentCallSid": ""}) is None  # empty: not sent
    assert malformed_sid({"MessageSid": "MM" + "a" * 32, "SmsSid": "SM" + "b" * 32}) is None
    assert set(SID_PREFIXES) >= {"AccountSid", "CallSid", "RecordingSid", "MessageSid"}


def test_a_body_of_many_fields_is_refused_before_it_is_parsed_or_signed(
    voice_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """150k empty fields in 1.4 MB cost 2 s of parsing and signing before the 403."""
    parsed: list[int] = []
    real = router_module.parse_form
    monkeypatch.setattr(router_module, "parse_form", lambda *a: parsed.append(1) or real(*a))
    many = "&".join(f"f{n}=" for n in range(MAX_FIELDS + 1))
    response = voice_app.test_client().post(
        "/twilio/voice", data=many, content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": "forged"},
    )  # fmt: skip
    assert response.status_code == 413 and parsed == []


def test_a_webhook_body_is_limited_to_what_twilio_sends(voice_app: Flask) -> None:
    big = {**payload("voice/incoming_call"), "Pad": "x" * (64 * 1024)}
    response = signed_post(voice_app.test_client(), f"{BASE_URL}/twilio/voice", big)
    assert response.status_code == 413


def test_an_unsigned_body_is_never_read(voice_app: Flask) -> None:
    class Unread(io.BytesIO):
        def read(self, *args: object) -> bytes:
            raise AssertionError("read an unsigned body")

    body = urlencode(payload("voice/incoming_call")).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/twilio/voice", "wsgi.input": Unread(body),
               "CONTENT_TYPE": "application/x-www-form-urlencoded",
               "CONTENT_LENGTH": str(len(body))}  # fmt: skip
    seen: list[str] = []
    voice_app.wsgi_app(environ, lambda status, headers: seen.append(status))  # type: ignore[arg-type]
    assert seen[0].startswith("403")


def test_a_forged_signature_is_computed_once(
    voice_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[str] = []
    real = RequestValidator.compute_signature

    def counting(self: RequestValidator, uri: str, params: object) -> str:
        computed.append(uri)
        return real(self, uri, params)  # type: ignore[arg-type]

    monkeypatch.setattr(RequestValidator, "compute_signature", counting)
    response = voice_app.test_client().post(
        "/twilio/voice", data=payload("voice/incoming_call"),
        headers={"X-Twilio-Signature": "forged"},
    )  # fmt: skip
    assert response.status_code == 403 and len(computed) == 1


def test_the_simulated_queue_is_absent_in_production(make_app: Callable[..., Flask]) -> None:
    app = make_app(
        environment="production", secret_key="s" * 40, twilio_account_sid="AC" + "1" * 32
    )
    for path in ("/twilio/sim/queue-member", "/twilio/sim/caller-left"):
        response = signed_post(app.test_client(), f"{BASE_URL}{path}", {"CallSid": "CA" + "9" * 32})
        assert response.status_code == 404, path
