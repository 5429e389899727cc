"""Single webhooks, signed like Twilio signs them and shaped like the captured payloads in
fixtures/: signatures, every node's failure paths, status callbacks, forged state and a
database outage."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from defusedxml.ElementTree import fromstring
from flask import Flask
from twilio.request_validator import RequestValidator

from config import Settings
from hotline import create_app
from hotline.calls.desk_models import QueueEntry
from hotline.calls.models import Call
from hotline.runtime import runtime
from hotline.twilio.ivr import Ivr
from ivr_flows.engine import CallState
from ivr_flows.render import fill
from tests.voice import AUTH_TOKEN, BASE_URL, call_row, count, event_kinds
from tests.webhooks.payloads import fixture_names, payload, said, signed_post, verbs
from ticketing.db.engine import Database
from ticketing.models import Ticket

SID = payload("voice/incoming_call")["CallSid"]


# Signatures -----------------------------------------------------------------------------------


def test_missing_and_wrong_signatures_get_403_and_write_nothing(
    voice_app: Flask, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    client = voice_app.test_client()
    with caplog.at_level(logging.WARNING):
        incoming = payload("voice/incoming_call")
        assert client.post("/twilio/voice", data=incoming).status_code == 403
        forged = signed_post(client, f"{BASE_URL}/twilio/voice", incoming, token="not-our-token")
        assert forged.status_code == 403
        tampered_params = payload("voice/incoming_call")
        signature = RequestValidator(AUTH_TOKEN).compute_signature(
            f"{BASE_URL}/twilio/voice", tampered_params
        )
        tampered_params["From"] = "+66899999999"
        tampered = client.post(
            "/twilio/voice", data=tampered_params, headers={"X-Twilio-Signature": signature}
        )
        assert tampered.status_code == 403
    assert "rejected Twilio webhook" in caplog.text
    assert count(database, Call) == 0


def test_signature_checks_the_public_url_behind_a_proxy_with_a_port_and_query(
    make_app: Callable[..., Flask],
) -> None:
    app = make_app(public_base_url="https://hotline.example.go.th:8443/")
    client = app.test_client()  # Flask sees http://localhost/…, Twilio signed https://…:8443/…
    url = "https://hotline.example.go.th:8443/twilio/status?source=test&x=%E0%B8%81"
    ringing = payload("voice/status_ringing")
    assert signed_post(client, url, ringing).status_code == 200
    wrong_base = "https://other.example/twilio/status?source=test&x=%E0%B8%81"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(wrong_base, ringing)
    response = client.post("/twilio/status?source=test&x=%E0%B8%81", data=ringing,
                           headers={"X-Twilio-Signature": signature})  # fmt: skip
    assert response.status_code == 403


def test_the_check_can_be_off_only_in_the_embedded_demo_and_says_so(
    make_app: Callable[..., Flask], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        app = make_app(twilio_signature_check=False)
    assert "TWILIO SIGNATURE CHECK IS OFF" in caplog.text
    incoming = payload("voice/incoming_call")
    assert app.test_client().post("/twilio/voice", data=incoming).status_code == 200


# Every interactive node ---------------------------------------------------------------------


def node_ids(kinds: tuple[str, ...]) -> list[str]:
    from ivr_flows.loader import load_flow

    return [n.id for n in load_flow("1567").nodes.values() if n.kind in kinds]


def post_step(app: Flask, state: CallState, timed_out: bool = False, digits: str | None = None):  # type: ignore[no-untyped-def]
    """Keys on a node's <Gather> (a Gather action), or, with no digits, what Twilio posts to
    the <Redirect> after it (the standard parameters alone)."""
    ivr: Ivr = runtime(app).ivr
    url = ivr.urls.step(replace(state, call=SID), timed_out=timed_out)
    if digits is None:
        return signed_post(app.test_client(), url, payload("voice/redirect"))
    keyed = payload("voice/gather_digits", Digits=digits, FinishedOnKey="" if digits else "#")
    return signed_post(app.test_client(), url, keyed)


@pytest.mark.parametrize("node", node_ids(("menu",)))
@pytest.mark.parametrize("failure", ["wrong key", "silence"])
def test_every_menu_asks_again_then_reaches_an_agent(
    voice_app: Flask, database: Database, node: str, failure: str
) -> None:
    def fail(state: CallState):  # type: ignore[no-untyped-def]
        if failure == "silence":
            return post_step(voice_app, state, timed_out=True)
        return post_step(voice_app, state, digits=wrong)

    options = runtime(voice_app).ivr.flow.node(node).options
    wrong = next(key for key in "98765" if key not in options)
    first = fail(CallState(node=node))
    assert first.status_code == 200 and "Gather" in verbs(first.get_data(as_text=True))
    assert "ขออภัยค่ะ" in said(first.get_data(as_text=True))
    second = fail(CallState(node=node, step=1, failures=1, strikes=1))
    body = second.get_data(as_text=True)
    assert "Enqueue" in verbs(body), f"{node}: {body}"
    expected = "ivr_no_input" if failure == "silence" else "ivr_invalid"
    assert (expected, node, None if failure == "silence" else wrong) in event_kinds(database, SID)


@pytest.mark.parametrize("node", node_ids(("menu",)))
def test_every_menu_repeats_on_star_and_reaches_an_agent_on_zero(
    voice_app: Flask, node: str
) -> None:
    repeated = post_step(voice_app, CallState(node=node), digits="*").get_data(as_text=True)
    assert "Gather" in verbs(repeated)
    flow = runtime(voice_app).ivr.flow  # the hours and retention filled in
    assert said(repeated) == fill(flow.node(node).prompt.text, {})  # no apology, no lead-in
    assert "Enqueue" in verbs(
        post_step(voice_app, CallState(node=node), digits="0").get_data(as_text=True)
    )


@pytest.mark.parametrize("node", node_ids(("collect",)))
def test_every_collect_refuses_bad_digits_then_reaches_an_agent(
    voice_app: Flask, node: str
) -> None:
    first = post_step(voice_app, CallState(node=node), digits="12").get_data(as_text=True)
    assert "ขออภัยค่ะ" in said(first) and "Gather" in verbs(first)
    second = post_step(voice_app, CallState(node=node, step=1, failures=1, strikes=1), digits="12")
    assert "Enqueue" in verbs(second.get_data(as_text=True))


def test_the_optional_citizen_id_is_skipped_with_hash_or_silence(voice_app: Flask) -> None:
    for digits in ("", None):
        state = CallState(node="citizen_id", data={"category": "land"})
        body = post_step(voice_app, state, timed_out=digits is None, digits=digits)
        body = body.get_data(as_text=True)
        assert "Record" in verbs(body), body


def test_the_survey_never_sends_anyone_to_an_agent_for_not_answering(voice_app: Flask) -> None:
    body = post_step(voice_app, CallState(node="survey", failures=1, strikes=1), timed_out=True)
    assert verbs(body.get_data(as_text=True))[-1] == "Hangup"


def test_a_forged_state_token_gets_an_apology_not_an_error(
    voice_app: Flask, database: Database
) -> None:
    response = signed_post(
        voice_app.test_client(), f"{BASE_URL}/twilio/step?s=forged", payload("voice/gather_digits")
    )
    assert response.status_code == 200
    assert verbs(response.get_data(as_text=True)) == ["Say", "Enqueue"]
    # The apologised-to caller waits like any other: the agents' live queue shows them.
    assert count(database, QueueEntry) == 1


@pytest.mark.parametrize(
    ("node", "digits"),
    [("main_menu", "1"), ("postal_code", "31110"), ("postal_code", "50200"), ("main_menu", "9")],
)
def test_a_replayed_step_answers_the_same_bytes(voice_app: Flask, node: str, digits: str) -> None:
    """Twilio retries a webhook it got no answer to: the retry must get the very same TwiML
    (the sealed state in its URLs included), whichever worker answers it."""
    ivr: Ivr = runtime(voice_app).ivr
    url = ivr.urls.step(CallState(node=node, step=3, call=SID))
    keyed = payload("voice/gather_digits", Digits=digits)
    first = signed_post(voice_app.test_client(), url, keyed).get_data(as_text=True)
    again = signed_post(voice_app.test_client(), url, keyed).get_data(as_text=True)
    assert "s=" in first and first == again


def test_a_state_sealed_for_another_call_gets_the_apology(
    voice_app: Flask, database: Database
) -> None:
    ivr: Ivr = runtime(voice_app).ivr
    data = {"ticket_query": "6900030162", "verify_citizen_id": "1101700207030"}
    url = ivr.urls.step(CallState(node="main_menu", step=3, data=data, call="CA" + "9" * 32))
    response = signed_post(voice_app.test_client(), url, payload("voice/gather_digits", Digits="2"))
    assert response.status_code == 200
    assert verbs(response.get_data(as_text=True)) == ["Say", "Enqueue"]
    assert "ระบบขัดข้อง" in said(response.get_data(as_text=True))


# Status callbacks -------------------------------------------------------------------------------


def test_status_callbacks_repeated_and_out_of_order(voice_app: Flask, database: Database) -> None:
    client = voice_app.test_client()
    url = f"{BASE_URL}/twilio/status"
    signed_post(client, f"{BASE_URL}/twilio/voice", payload("voice/incoming_call"))
    callbacks = [
        ("voice/status_completed", "3", "95"),
        ("voice/status_ringing", "0", None),
        ("voice/status_in_progress", "1", None),
        ("voice/status_completed", "3", "95"),
    ]
    for name, sequence, duration in callbacks:
        response = signed_post(
            client, url, payload(name, SequenceNumber=sequence, CallDuration=duration)
        )
        assert response.status_code == 200 and response.get_data(as_text=True).endswith(
            "<Response />"
        )
    call = call_row(database, SID)
    assert call.twilio_status == "completed" and call.duration_s == 95
    assert (
        call.last_sequence == 3
        and call.outcome == "abandoned_ivr"
        and call.last_node == "main_menu"
    )
    ends = [e for e in event_kinds(database, SID) if e[0] in ("hangup", "complete")]
    assert ends == [("hangup", "main_menu", "abandoned_ivr")]


def test_a_status_callback_without_a_sequence_number_still_closes_the_call(
    voice_app: Flask, database: Database
) -> None:
    """Twilio sends SequenceNumber only to status callbacks with events; without it the
    callback counts as the next one, and the call log is not held up."""
    client = voice_app.test_client()
    signed_post(client, f"{BASE_URL}/twilio/voice", payload("voice/incoming_call"))
    completed = payload("voice/status_completed", SequenceNumber=None, CallDuration="12")
    signed_post(client, f"{BASE_URL}/twilio/status", completed)
    call = call_row(database, SID)
    assert call.twilio_status == "completed" and call.duration_s == 12
    assert call.last_sequence == 0 and call.ended_at is not None


# Failure inside a webhook -----------------------------------------------------------------------


@pytest.fixture
def broken_app(tmp_path: Path) -> Flask:
    settings = Settings(
        instance_dir=tmp_path,
        database_url="postgresql://nobody@127.0.0.1:1/none",
        public_base_url=BASE_URL,
        twilio_auth_token=AUTH_TOKEN,
    )
    return create_app(settings)


@pytest.mark.parametrize("path", ["/twilio/voice", "/twilio/fallback"])
def test_a_database_outage_still_gets_an_apology_and_an_agent(broken_app: Flask, path: str) -> None:
    # The fallback's payload (ErrorCode, ErrorUrl) to both: whichever Twilio reaches first.
    response = signed_post(broken_app.test_client(), BASE_URL + path, payload("voice/fallback"))
    assert response.status_code == 200 and response.mimetype == "text/xml"
    body = response.get_data(as_text=True)
    assert verbs(body) == ["Say", "Enqueue"]
    assert "ขออภัยค่ะ" in said(body)


def test_status_callback_during_an_outage_answers_empty_twiml(broken_app: Flask) -> None:
    response = signed_post(
        broken_app.test_client(), f"{BASE_URL}/twilio/status", payload("voice/status_completed")
    )
    assert response.status_code == 200 and verbs(response.get_data(as_text=True)) == []


def test_every_twilio_route_answers_twiml_during_an_outage(broken_app: Flask) -> None:
    """A route walk: whatever breaks, Twilio gets well-formed TwiML, never a 5xx or a page."""
    client = broken_app.test_client()
    # Every field of every captured payload at once (Digits, RecordingSid, QueueResult,
    # DialCallStatus, Body, MessageStatus…): whatever a route reads, it is there.
    everything = {k: v for name in fixture_names() for k, v in payload(name).items()}
    assert {"Digits", "RecordingSid", "QueueResult", "DialCallStatus", "Body"} <= set(everything)
    flask_routes = [rule.rule for rule in broken_app.url_map.iter_rules()
                    if rule.rule.startswith("/twilio/")]  # fmt: skip
    assert flask_routes == []  # every Twilio URL is the router's
    walked = []
    # the embedded demo's queue stand-in answers the simulator in JSON
    twiml_paths = [p for p in sorted(runtime(broken_app).webhook_paths) if "/sim/" not in p]
    for path in twiml_paths:
        response = signed_post(client, f"{BASE_URL}{path}?s=forged&agent=1", everything)
        assert response.status_code == 200, path
        assert fromstring(response.get_data(as_text=True)).tag == "Response", path
        walked.append(path)
    assert len(walked) >= 12, walked
    hold = signed_post(client, f"{BASE_URL}/twilio/wait?s=forged", everything)
    assert verbs(hold.get_data(as_text=True)) == ["Pause"]  # no <Enqueue> inside a waitUrl
    callback = signed_post(client, f"{BASE_URL}/twilio/recording-status?s=forged", everything)
    assert verbs(callback.get_data(as_text=True)) == []


def test_the_phone_fixture_checks_every_answer(make_phone: Callable[..., object]) -> None:
    """The checker itself must be able to fail: a <Say> in English is refused."""
    from xml.etree.ElementTree import Element

    from tests.webhooks.twiml_check import check_verb

    say = Element("Say", {"language": "en-US", "voice": "alice"})
    say.text = "hello"
    with pytest.raises(AssertionError):
        check_verb(Flask(__name__), say, BASE_URL)


def test_the_recording_callback_alone_files_the_ticket(
    voice_app: Flask, database: Database
) -> None:
    """The <Record> action never came (the caller hung up mid-request): the callback files it."""
    ivr: Ivr = runtime(voice_app).ivr
    data = {"category": "drugs", "postal_code": "10200", "province_code": "10"}
    url = ivr.urls.recording_status(CallState(node="record_complaint", data=data, call=SID))
    recording = payload("recording/status_completed")
    for _ in range(2):  # and a replay of it files nothing more
        response = signed_post(voice_app.test_client(), url, recording)
        assert response.status_code == 200
    assert count(database, Ticket) == 1
    filed = [e for e in event_kinds(database, SID) if e[0] == "ticket_filed"]
    assert len(filed) == 1 and filed[0][1] == "file_ticket"
