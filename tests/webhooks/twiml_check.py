"""Every TwiML answer checked like Twilio's parser would, and stricter.

Root <Response>; only known verbs, attributes and nesting; every <Say> in th-TH with the
configured voice; every URL points back at this app's public base and one of its routes.
"""

from __future__ import annotations

from urllib.parse import urlsplit
from xml.etree.ElementTree import Element

from defusedxml.ElementTree import fromstring
from flask import Flask
from werkzeug.exceptions import HTTPException

from hotline.demo.phone import Exchange
from hotline.runtime import runtime

VOICE = "Google.th-TH-Standard-A"
ATTRIBUTES: dict[str, set[str]] = {
    "Say": {"voice", "language", "loop"},
    "Play": {"loop", "digits"},
    "Pause": {"length"},
    "Gather": {"input", "action", "method", "timeout", "numDigits", "finishOnKey", "language",
               "hints", "speechTimeout", "speechModel", "actionOnEmptyResult"},
    "Record": {"action", "method", "maxLength", "timeout", "finishOnKey", "playBeep",
               "recordingStatusCallback", "recordingStatusCallbackMethod",
               "recordingStatusCallbackEvent", "trim"},
    "Redirect": {"method"},
    "Enqueue": {"action", "method", "waitUrl", "waitUrlMethod"},
    "Dial": {"action", "method", "timeout", "record", "recordingStatusCallback", "callerId"},
    "Queue": {"url", "method"},
    "Hangup": set(),
    "Leave": set(),
}  # fmt: skip
CHILDREN = {"Gather": {"Say", "Play", "Pause"}, "Dial": {"Number", "Queue", "Client"}}
URL_ATTRIBUTES = {"action", "waitUrl", "recordingStatusCallback", "url"}


def check_exchange(app: Flask, exchange: Exchange, base_url: str) -> None:
    assert exchange.status == 200, f"{exchange.url} answered {exchange.status}"
    root = fromstring(exchange.body)
    assert root.tag == "Response", f"root is <{root.tag}>"
    for verb in root:
        check_verb(app, verb, base_url)


def check_verb(app: Flask, verb: Element, base_url: str, parent: str | None = None) -> None:
    if parent is not None:
        assert verb.tag in CHILDREN[parent], f"<{verb.tag}> inside <{parent}>"
    assert verb.tag in ATTRIBUTES, f"unknown verb <{verb.tag}>"
    unknown = set(verb.attrib) - ATTRIBUTES[verb.tag]
    assert not unknown, f"<{verb.tag}> has unknown attributes {unknown}"
    if verb.tag == "Say":
        assert verb.get("language") == "th-TH" and verb.get("voice") == VOICE, verb.attrib
        assert (verb.text or "").strip(), "empty <Say>"
    for name in URL_ATTRIBUTES & set(verb.attrib):
        check_url(app, verb.get(name, ""), base_url)
    if verb.tag == "Redirect":
        check_url(app, verb.text or "", base_url)
    for child in verb:
        check_verb(app, child, base_url, verb.tag)


def check_url(app: Flask, url: str, base_url: str) -> None:
    assert url.startswith(base_url + "/"), f"{url} is not under {base_url}"
    path = urlsplit(url).path
    if path in runtime(app).webhook_paths:  # served by the Twilio router, in front of Flask
        return
    adapter = app.url_map.bind("hotline.example.go.th")
    try:
        adapter.match(path, method="POST")
    except HTTPException as exc:  # pragma: no cover - the assertion below reports it
        raise AssertionError(f"{url} does not resolve to a route: {exc}") from exc
