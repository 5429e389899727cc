"""Open311 GeoReport v2: every document in both formats against the spec's fields, no personal
data anywhere, api_key on reads unless opened, the spec's filters and errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree.ElementTree import Element

import pytest
from defusedxml.ElementTree import fromstring
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from hotline.api.open311 import XML_ITEMS
from hotline.runtime import runtime
from tests.factories import (
    SYSTEM,
    VALID_CITIZEN_ID,
    make_agency,
    make_draft,
    make_ticket,
    make_user,
)
from tests.integration.test_api import token_for
from tests.integration.test_ticket_services import row_counts
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.services import change_status, open_ticket, refer

# The fields the GeoReport v2 spec lists for each document (../shared/reference/civic-thai.md).
SPEC_FIELDS: dict[str, set[str]] = {
    "discovery": {"changeset", "contact", "key_service", "endpoints"},
    "endpoint": {"specification", "url", "changeset", "type", "formats"},
    "service": {"service_code", "service_name", "description", "metadata", "type", "keywords",
                "group"},
    "service_definition": {"service_code", "attributes"},
    "attribute": {"variable", "code", "datatype", "required", "datatype_description", "order",
                  "description", "values"},
    "value": {"key", "name"},
    "request": {"service_request_id", "status", "status_notes", "service_name", "service_code",
                "description", "agency_responsible", "service_notice", "requested_datetime",
                "updated_datetime", "expected_datetime", "address", "address_id", "zipcode",
                "lat", "long", "media_url"},
    "created": {"service_request_id", "token", "service_notice", "account_id"},
    "error": {"code", "description"},
}  # fmt: skip
PERSONAL = ["สมชาย", "ใจดี", "812345678", "0812345678", VALID_CITIZEN_ID, "ข้างบ้านรุกล้ำที่ดิน"]
BASE = "/open311/v2"


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    app = make_app()
    runtime(app).clock = lambda: datetime.now(UTC) + timedelta(minutes=1)
    return app


def get(client: FlaskClient, path: str, key: str | None = None, **params: str) -> TestResponse:
    query = {**params, **({"api_key": key} if key else {})}
    return client.get(f"{BASE}{path}", query_string=query)


def xml_of(response: TestResponse) -> Element:
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.data.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root: Element = fromstring(response.data)
    return root


def spark(element: Element) -> Any:
    """XML → the JSON the Spark convention gives (lists are wrappers of repeated children)."""
    children = list(element)
    if element.tag in XML_ITEMS:
        return [spark(c) for c in children]
    if not children:
        return element.text
    return {c.tag: spark(c) for c in children}


def check_fields(kind: str, document: dict[str, Any]) -> None:
    extra = set(document) - SPEC_FIELDS[kind]
    assert not extra, f"{kind} carries fields the spec does not list: {extra}"
    for key, nested in (
        ("endpoints", "endpoint"),
        ("attributes", "attribute"),
        ("values", "value"),
    ):
        for item in document.get(key) or []:
            check_fields(nested, item)


def both(client: FlaskClient, path: str, key: str | None = None, **params: str) -> Any:
    """The JSON document, after checking that the XML one says the same, with no personal data."""
    as_json = get(client, f"{path}.json", key, **params)
    as_xml = get(client, f"{path}.xml", key, **params)
    assert as_json.status_code == as_xml.status_code
    for response in (as_json, as_xml):
        text = response.get_data(as_text=True)
        assert not [p for p in PERSONAL if p in text], text
    assert as_json.content_type == "application/json"
    document = as_json.json
    assert _strings(spark(xml_of(as_xml))) == _strings(document)
    return document


def _strings(value: Any) -> Any:
    """JSON's numbers and booleans are text in XML: compare them as text."""
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_strings(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return None if value is None else str(value)


def test_every_document_has_only_the_specs_fields_and_no_personal_data(
    app: Flask, database: Database
) -> None:
    agent = make_user(database, "agent")
    agency = make_agency(database)
    ticket = make_ticket(database)
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)
    refer(UnitOfWork(database), ticket.id, [agency.id], agent)
    key = token_for(database, "tickets:read", "tickets:write")
    client = app.test_client()

    discovery = both(client, "/discovery")
    check_fields("discovery", discovery)
    assert discovery["endpoints"][0]["formats"] == ["text/xml", "application/json"]
    services = both(client, "/services", key)
    assert {s["service_code"] for s in services} >= {"land"}
    for service in services:
        check_fields("service", service)
    definition = both(client, "/services/land", key)
    check_fields("service_definition", definition)
    assert definition["attributes"][0]["values"][0] == {"key": "10", "name": "กรุงเทพมหานคร"}

    [listed] = both(client, "/requests", key)
    check_fields("request", listed)
    assert listed["service_request_id"] == ticket.number and listed["status"] == "open"
    assert listed["agency_responsible"] == agency.name_th
    assert listed["requested_datetime"].endswith("Z") and listed["service_code"] == "land"
    assert both(client, f"/requests/{ticket.number}", key) == [listed]

    created = client.post(f"{BASE}/requests.json", data={
        "api_key": key, "service_code": "land", "address_string": "หมู่ 3 ต.สุเทพ",
        "description": "ข้างบ้านรุกล้ำที่ดิน", "first_name": "สมชาย", "phone": "0812345678",
    })  # fmt: skip
    assert created.status_code == 201
    [answer] = created.json
    check_fields("created", answer)
    assert answer["service_request_id"].isdigit()
    assert not [p for p in PERSONAL if p in created.get_data(as_text=True)]

    [error] = both(client, "/requests/6900000000", key)
    check_fields("error", error)
    assert error["code"] == 404


def test_reads_need_an_api_key_unless_opened_and_writes_always_do(
    make_app: Callable[..., Flask], database: Database
) -> None:
    closed = make_app().test_client()
    refused = get(closed, "/services.json")
    assert refused.status_code == 403 and refused.json[0]["code"] == 403
    xml = xml_of(get(closed, "/requests.xml", "hl_wrong"))
    assert xml.tag == "errors" and xml.find("error/code").text == "403"  # type: ignore[union-attr]
    assert get(closed, "/discovery.json").status_code == 200

    opened = make_app(open311_public_read=True).test_client()
    assert get(opened, "/services.json").status_code == 200
    assert get(opened, "/requests.json").status_code == 200
    reader = token_for(database, "tickets:read")
    before = row_counts(database)
    anonymous = {"service_code": "land", "lat": "18.8", "long": "98.9", "description": "x"}
    post = opened.post(f"{BASE}/requests.json", data=anonymous)
    assert post.status_code == 403 and row_counts(database) == before
    post = opened.post(f"{BASE}/requests.json", data={"api_key": reader, "service_code": "land",
                                                      "lat": "18.8", "long": "98.9",
                                                      "description": "x"})  # fmt: skip
    assert post.status_code == 403 and row_counts(database) == before


def test_an_agency_key_reads_only_its_referrals_and_may_not_file(
    app: Flask, database: Database
) -> None:
    agent = make_user(database, "agent")
    agency = make_agency(database)
    ours, other = make_ticket(database), make_ticket(database)
    change_status(UnitOfWork(database), ours.id, "accepted", agent)
    refer(UnitOfWork(database), ours.id, [agency.id], agent)
    key = token_for(database, "tickets:read", "tickets:write", agency_code=agency.code)
    client = app.test_client()
    assert [r["service_request_id"] for r in get(client, "/requests.json", key).json] == [
        ours.number
    ]
    assert get(client, f"/requests/{other.number}.json", key).status_code == 404
    filed = client.post(f"{BASE}/requests.json", data={"api_key": key, "service_code": "land",
                                                       "lat": "18.8", "long": "98.9",
                                                       "description": "x"})  # fmt: skip
    assert filed.status_code == 403


def test_the_specs_filters(app: Flask, database: Database) -> None:
    agent = make_user(database, "agent")
    land = make_ticket(database)
    debt = make_ticket(database, category_code="informal_debt")
    done = make_ticket(database)
    change_status(UnitOfWork(database), done.id, "rejected", agent, reason="ไม่ใช่อำนาจหน้าที่")
    old = open_ticket(UnitOfWork(database), make_draft(), SYSTEM,
                      now=datetime.now(UTC) - timedelta(days=120))  # fmt: skip
    key = token_for(database, "tickets:read")
    client = app.test_client()

    def ids(**params: str) -> set[str]:
        response = get(client, "/requests.json", key, **params)
        assert response.status_code == 200, response.json
        return {r["service_request_id"] for r in response.json}

    assert ids() == {land.number, debt.number, done.number}  # the last 90 days by default
    assert ids(service_code="informal_debt") == {debt.number}
    assert ids(service_code="informal_debt,land") == {land.number, debt.number, done.number}
    assert ids(status="closed") == {done.number}
    assert ids(status="open") == {land.number, debt.number}
    assert ids(service_request_id=f"{old.number},{debt.number}") == {old.number, debt.number}
    start = (datetime.now(UTC) - timedelta(days=130)).isoformat()
    end = (datetime.now(UTC) - timedelta(days=100)).isoformat()
    assert ids(start_date=start, end_date=end) == {old.number}
    assert ids(status="", service_code="") == ids()  # empty optional arguments are absent


BAD_READS = {
    "range over 90 days": {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00Z"},
    "naive date": {"start_date": "2026-11-01T00:00:00"},
    "not a date": {"end_date": "yesterday"},
    "bad status": {"status": "pending"},
    "unknown parameter": {"sort": "asc"},
}


@pytest.mark.parametrize("params", BAD_READS.values(), ids=BAD_READS.keys())
def test_bad_reads_get_the_specs_400(
    app: Flask, database: Database, params: dict[str, str]
) -> None:
    key = token_for(database, "tickets:read")
    response = get(app.test_client(), "/requests.xml", key, **params)
    assert response.status_code == 400
    root = xml_of(response)
    assert root.tag == "errors" and root.find("error/description").text  # type: ignore[union-attr]


GOOD = {"service_code": "land", "lat": "18.79", "long": "98.98", "description": "ทางสาธารณะถูกปิด"}
BAD_POSTS: dict[str, dict[str, str]] = {
    "no service_code": {**GOOD, "service_code": ""},
    "unknown service_code": {**GOOD, "service_code": "potholes"},
    "no location": {"service_code": "land", "description": "x"},
    "lat without long": {"service_code": "land", "lat": "18.7", "description": "x"},
    "lat out of range": {**GOOD, "lat": "123"},
    "unknown field": {**GOOD, "priority": "urgent"},
    "unknown attribute": {**GOOD, "attribute[colour]": "red"},
    "bad province": {**GOOD, "attribute[province_code]": "99"},
    "bad phone": {**GOOD, "phone": "12"},
    "html": {**GOOD, "description": "<b>x</b>"},
    "too long": {**GOOD, "description": "ก" * 4001},
}


@pytest.mark.parametrize("form", BAD_POSTS.values(), ids=BAD_POSTS.keys())
def test_bad_posts_get_400_and_write_nothing(
    app: Flask, database: Database, form: dict[str, str]
) -> None:
    key = token_for(database, "tickets:write")
    before = row_counts(database)
    response = app.test_client().post(f"{BASE}/requests.json", data={**form, "api_key": key})
    assert response.status_code == 400, response.json
    assert response.json[0]["code"] == 400 and response.json[0]["description"]
    assert row_counts(database) == before


def test_a_post_with_attributes_files_a_located_ticket(app: Flask, database: Database) -> None:
    key = token_for(database, "tickets:read", "tickets:write")
    client = app.test_client()
    form = {**GOOD, "api_key": key, "attribute[province_code]": "50",
            "attribute[postal_code]": "50200"}  # fmt: skip
    created = client.post(f"{BASE}/requests.xml", data=form)
    assert created.status_code == 201
    number = xml_of(created).find("request/service_request_id").text  # type: ignore[union-attr]
    [shown] = get(client, f"/requests/{number}.json", key).json
    assert shown["agency_responsible"] == "ศูนย์ดำรงธรรมจังหวัดเชียงใหม่"


def test_tokens_unknown_urls_and_oversized_bodies_answer_in_the_specs_shape(
    app: Flask, database: Database
) -> None:
    key = token_for(database, "tickets:read", "tickets:write")
    client = app.test_client()
    token = get(client, "/tokens/abc123.json", key)
    assert token.status_code == 404 and token.json[0]["code"] == 404
    assert xml_of(client.get(f"{BASE}/nothing-here.xml")).tag == "errors"
    assert client.get(f"{BASE}/services.html").status_code == 404
    big = client.post(f"{BASE}/requests.json", data={**GOOD, "api_key": key,
                                                    "description": "ก" * 3_000_000})  # fmt: skip
    assert big.status_code == 413 and big.json[0]["code"] == 413
