"""The WSGI router that serves the voice webhooks in front of Flask: it must keep every rule
the Flask views had (signatures, size limits, request ids, safe answers) and hand everything
else to Flask untouched."""

from __future__ import annotations

import io
import logging
from urllib.parse import parse_qsl, urlencode

import pytest
from flask import Flask
from twilio.request_validator import RequestValidator

from hotline.runtime import runtime
from hotline.twilio.router import Fields, Route, TwilioWebhooks, WebhookRequest, parse_form
from tests.voice import AUTH_TOKEN, BASE_URL
from tests.webhooks.payloads import payload, signed_post, verbs

ANSWER = '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>'
SAFE = '<?xml version="1.0" encoding="UTF-8"?><Response><Pause /></Response>'
SID = b"CA" + b"1" * 32  # a call SID of Twilio's shape


def test_fields_give_the_first_value_and_getlist_gives_them_all() -> None:
    fields = Fields([("Digits", "1"), ("Hints", "a"), ("Hints", "b"), ("Empty", "")])
    assert fields.get("Digits") == "1" and fields.get("Hints") == "a" and fields["Empty"] == ""
    assert fields.get("Missing") is None and fields.getlist("Missing") == []
    assert fields.getlist("Hints") == ["a", "b"] and fields.getlist("Digits") == ["1"]
    # RequestValidator asks for getall first: every value, without its AttributeError detour
    assert RequestValidator(AUTH_TOKEN).get_values(fields, "Hints") == ["a", "b"]
    assert fields.getall("Hints") == ["a", "b"]


def test_a_request_signed_over_repeated_fields_is_accepted(voice_app: Flask) -> None:
    pairs = [*payload("voice/status_ringing").items(), ("Extra", "b"), ("Extra", "a")]
    url = f"{BASE_URL}/twilio/status"

    class Signed:  # what Twilio signs: every value of every field
        def __init__(self) -> None:
            self.pairs = pairs

        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter({name for name, _ in pairs})

        def getlist(self, name: str) -> list[str]:
            return [value for key, value in pairs if key == name]

    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, Signed())  # type: ignore[arg-type]
    body = urlencode(pairs)
    response = voice_app.test_client().post(
        "/twilio/status", data=body, content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )  # fmt: skip
    assert response.status_code == 200


def test_webhook_answers_carry_a_request_id_and_xml(voice_app: Flask) -> None:
    response = signed_post(
        voice_app.test_client(), f"{BASE_URL}/twilio/voice", payload("voice/incoming_call")
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert len(response.headers["X-Request-Id"]) == 16
    assert "Gather" in verbs(response.get_data(as_text=True))


def test_a_body_over_the_limit_gets_413_and_is_not_read(voice_app: Flask) -> None:
    big = {
        **payload("voice/incoming_call"),
        "Pad": "x" * (voice_app.config["MAX_CONTENT_LENGTH"] + 1),
    }
    response = signed_post(voice_app.test_client(), f"{BASE_URL}/twilio/voice", big)
    assert response.status_code == 413
    json_body = voice_app.test_client().post(
        "/twilio/voice", data="x" * (voice_app.config["MAX_CONTENT_LENGTH"] + 1),
        content_type="application/json", headers={"X-Twilio-Signature": "claimed"},
    )  # fmt: skip
    assert json_body.status_code == 413


def test_the_form_type_is_matched_like_werkzeug_does() -> None:
    seen: list[WebhookRequest] = []
    router = router_with(lambda request: seen.append(request) or ANSWER)
    status, _ = call(
        router,
        b"CallSid=" + SID + b"&Digits=7",
        content_type="Application/X-WWW-Form-URLEncoded; charset=UTF-8",
    )
    assert status == "200 OK" and seen[0].form["Digits"] == "7"


def test_without_a_size_limit_any_body_is_read() -> None:
    seen: list[WebhookRequest] = []
    router = router_with(lambda request: seen.append(request) or ANSWER, max_length=None)
    assert call(router, b"CallSid=" + SID + b"&Pad=" + b"x" * 5000)[0] == "200 OK"
    assert call(router, b"CallSid=" + SID + b"&Pad=" + b"y" * 5000, chunked=True)[0] == "200 OK"
    assert [len(r.form["Pad"]) for r in seen] == [5000, 5000]


def test_other_methods_and_paths_go_on_to_flask(voice_app: Flask) -> None:
    client = voice_app.test_client()
    refused = client.get("/twilio/voice")
    assert refused.status_code == 405 and refused.headers["Allow"] == "POST"
    assert client.get("/healthz").status_code == 200
    assert "/twilio/step" in runtime(voice_app).webhook_paths


def test_an_unsigned_request_is_refused_before_its_handler_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[WebhookRequest] = []
    router = router_with(lambda request: ran.append(request) or ANSWER)
    with caplog.at_level(logging.WARNING):
        status, _ = call(router, b"CallSid=" + SID + b"&Digits=1", signature="forged")
    assert status == "403 Forbidden" and ran == []
    assert "rejected Twilio webhook with a wrong signature: /twilio/step" in caplog.text


def test_a_failing_handler_gets_its_routes_safe_answer(caplog: pytest.LogCaptureFixture) -> None:
    def broken(request: WebhookRequest) -> str:
        raise RuntimeError("database down")

    router = router_with(broken)
    with caplog.at_level(logging.ERROR):
        status, body = call(router, b"CallSid=" + SID + b"&Digits=1")
    assert status == "200 OK" and body == SAFE.encode()
    assert "Twilio webhook /twilio/step failed" in caplog.text


def test_a_chunked_body_is_read_to_its_end_and_limited() -> None:
    seen: list[WebhookRequest] = []
    router = router_with(lambda request: seen.append(request) or ANSWER, max_length=64)
    status, _ = call(router, b"CallSid=" + SID + b"&Digits=%E0%B8%81", chunked=True)
    assert status == "200 OK" and seen[0].form["Digits"] == "ก"
    status, _ = call(router, b"CallSid=" + SID + b"&Pad=" + b"x" * 64, chunked=True)
    assert status == "413 Request Entity Too Large"


def router_with(handler, max_length: int | None = 1024) -> TwilioWebhooks:  # type: ignore[no-untyped-def]
    def flask_stand_in(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("404 Not Found", [])
        return [b""]

    validator = RequestValidator(AUTH_TOKEN)
    return TwilioWebhooks(
        flask_stand_in,
        {"/twilio/step": Route(handler, lambda request: SAFE)},
        public_base_url=BASE_URL,
        verify=lambda url, fields, signature: validator.validate(url, fields, signature),
        max_content_length=max_length,
    )


def call(
    router: TwilioWebhooks,
    body: bytes,
    *,
    signature: str | None = None,
    chunked: bool = False,
    content_type: str = "application/x-www-form-urlencoded",
) -> tuple[str, bytes]:
    from urllib.parse import parse_qsl

    fields = dict(parse_qsl(body.decode()))
    url = f"{BASE_URL}/twilio/step"
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/twilio/step",
        "QUERY_STRING": "",
        "CONTENT_TYPE": content_type,
        "wsgi.input": io.BytesIO(body),
        "HTTP_X_TWILIO_SIGNATURE": signature
        or RequestValidator(AUTH_TOKEN).compute_signature(url, fields),
    }
    if chunked:
        environ["wsgi.input_terminated"] = True
    else:
        environ["CONTENT_LENGTH"] = str(len(body))
    answered: list[str] = []
    chunks = router(environ, lambda status, headers, *exc: answered.append(status))  # type: ignore[arg-type]
    return answered[0], b"".join(chunks)


@pytest.mark.parametrize(
    "text",
    ["", "a=1", "a=1&b=2&a=3", "a", "a=", "=x", "&&a=1&", "From=%2B66812345678&To=1567",
     "Speech=%E0%B8%AA%E0%B8%A7%E0%B8%B1%E0%B8%AA+%E0%B8%94%E0%B8%B5", "x=%ZZ%E0%B8&y=a+b%2Bc",
     "a=b=c", "%41%3D=%26", "bad=%ff%fe", "s=abc_-XYZ&e=timeout"],
)  # fmt: skip
def test_the_form_parser_reads_exactly_what_parse_qsl_reads(text: str) -> None:
    for errors in ("werkzeug.url_quote", "replace"):
        assert parse_form(text, errors) == parse_qsl(text, keep_blank_values=True, errors=errors)
