"""REST API v1 with bearer tokens: tickets from other channels, bad input, agencies' view."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.factories import SYSTEM, make_agency, make_ticket, make_user
from tests.integration.test_ticket_services import row_counts
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import User
from ticketing.services import refer
from ticketing.tokens import create_token, revoke

NEW = {"channel": "web", "category": "nuisance", "description": "โรงงานปล่อยควันดำทุกคืน",
       "caller_phone": "0812345678", "province_code": "50", "postal_code": "50200"}  # fmt: skip


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


def token_for(database: Database, *scopes: str, agency_code: str | None = None) -> str:
    if agency_code is not None:
        return create_token(UnitOfWork(database), "agency system", list(scopes), SYSTEM,
                            agency_code=agency_code)[1]  # fmt: skip
    actor = make_user(database, "agent")
    with UnitOfWork(database) as uow:
        user = uow.session.get(User, actor.user_id)
        assert user is not None
        username = user.username
    return create_token(UnitOfWork(database), "web form", list(scopes), SYSTEM, username=username)[
        1
    ]


def call(
    client: FlaskClient, method: str, path: str, token: str, body: Any = None, **kw: Any
) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    return client.open(path, method=method, json=body, headers=headers, **kw)


def test_file_a_complaint_from_the_web_and_read_it_back(app: Flask, database: Database) -> None:
    token = token_for(database, "tickets:read", "tickets:write")
    client = app.test_client()
    created = call(client, "POST", "/api/v1/tickets", token, NEW)
    assert created.status_code == 201
    ticket = created.json["data"]
    assert ticket["channel"] == "web" and ticket["status"] == "received"
    assert ticket["caller_phone_masked"] == "08x xxx 5678"  # personal data masked
    assert ticket["overdue"] is False and ticket["due_at"].endswith("Z")
    fetched = call(client, "GET", f"/api/v1/tickets/{ticket['number']}", token)
    assert fetched.status_code == 200 and fetched.json["data"]["number"] == ticket["number"]
    moved = call(
        client, "POST", f"/api/v1/tickets/{ticket['number']}/status", token, {"status": "accepted"}
    )
    assert moved.status_code == 200 and moved.json["data"]["status"] == "accepted"
    noted = call(client, "POST", f"/api/v1/tickets/{ticket['number']}/notes", token,
                 {"body": "โทรแจ้งผู้ร้องแล้ว", "public": True})  # fmt: skip
    assert noted.status_code == 201 and noted.json["data"]["public"] is True


def test_lists_are_paginated_by_cursor_and_filtered(app: Flask, database: Database) -> None:
    token = token_for(database, "tickets:read")
    numbers = {make_ticket(database).number for _ in range(5)}
    client = app.test_client()
    first = call(client, "GET", "/api/v1/tickets?limit=3", token).json
    second = call(
        client, "GET", f"/api/v1/tickets?limit=3&cursor={first['next_cursor']}", token
    ).json
    seen = [t["number"] for t in first["data"] + second["data"]]
    assert set(seen) == numbers and len(seen) == 5 and second["next_cursor"] is None
    assert call(client, "GET", "/api/v1/tickets?status=closed", token).json["data"] == []
    assert (
        len(call(client, "GET", "/api/v1/tickets?province=50&category=land", token).json["data"])
        == 5
    )


BAD = {
    "malformed JSON": ("POST", "/api/v1/tickets", "{not json", 400, "malformed"),
    "not an object": ("POST", "/api/v1/tickets", [1, 2], 400, "malformed"),
    "unknown field": ("POST", "/api/v1/tickets", {**NEW, "admin": True}, 400, "invalid"),
    "wrong type": ("POST", "/api/v1/tickets", {**NEW, "description": 42}, 400, "invalid"),
    "missing field": (
        "POST",
        "/api/v1/tickets",
        {"channel": "web", "category": "land"},
        400,
        "invalid",
    ),
    "phone channel": ("POST", "/api/v1/tickets", {**NEW, "channel": "phone"}, 400, "invalid"),
    "bad citizen id": (
        "POST",
        "/api/v1/tickets",
        {**NEW, "citizen_id": "1234567890123"},
        422,
        "invalid",
    ),
    "unknown category": ("POST", "/api/v1/tickets", {**NEW, "category": "x"}, 422, "invalid"),
    "bad limit": ("GET", "/api/v1/tickets?limit=0", None, 400, "invalid"),
    "bad cursor": ("GET", "/api/v1/tickets?cursor=zzz", None, 400, "invalid"),
    "non-ASCII cursor": ("GET", "/api/v1/tickets?cursor=%C2%80", None, 400, "invalid"),
    "superscript limit": ("GET", "/api/v1/tickets?limit=%C2%B2", None, 400, "invalid"),
    "unknown parameter": ("GET", "/api/v1/tickets?sort=x", None, 400, "invalid"),
    "naive date": ("GET", "/api/v1/tickets?since=2026-01-01T00:00", None, 400, "invalid"),
    "mistyped number": ("GET", "/api/v1/tickets/6900012347", None, 404, "not_found"),
}


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), BAD.values(), ids=BAD.keys())
def test_bad_input_gets_a_json_4xx_and_writes_nothing(
    app: Flask, database: Database, method: str, path: str, body: Any, status: int, code: str
) -> None:
    token = token_for(database, "tickets:read", "tickets:write")
    before = row_counts(database)
    client = app.test_client()
    if isinstance(body, str):
        response = client.open(path, method=method, data=body, content_type="application/json",
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    else:
        response = call(client, method, path, token, body)
    assert response.status_code == status, response.json
    assert response.json["error"]["code"] == code and response.json["error"]["message"]
    assert row_counts(database) == before


def test_an_oversized_body_is_refused(app: Flask, database: Database) -> None:
    token = token_for(database, "tickets:write")
    response = call(app.test_client(), "POST", "/api/v1/tickets", token,
                    {**NEW, "description": "ก" * 3_000_000})  # fmt: skip
    assert response.status_code == 413 and response.json["error"]["code"]


def test_tokens_are_checked_scoped_and_revocable(app: Flask, database: Database) -> None:
    client = app.test_client()
    assert client.get("/api/v1/tickets").status_code == 401
    assert call(client, "GET", "/api/v1/tickets", "hl_not-a-token").status_code == 401
    reader = token_for(database, "tickets:read")
    refused = call(client, "POST", "/api/v1/tickets", reader, NEW)
    assert refused.status_code == 403 and "tickets:write" in refused.json["error"]["message"]
    assert call(client, "GET", "/api/v1/categories", reader).status_code == 403
    revoke(UnitOfWork(database), reader[:10], SYSTEM)
    assert call(client, "GET", "/api/v1/tickets", reader).status_code == 401


def test_an_agency_token_sees_only_what_was_referred_to_it(app: Flask, database: Database) -> None:
    agent = make_user(database, "agent")
    ours, theirs = make_agency(database), make_agency(database)
    referred = make_ticket(database)
    from ticketing.services import change_status

    change_status(UnitOfWork(database), referred.id, "accepted", agent)
    refer(UnitOfWork(database), referred.id, [ours.id], agent)
    other = make_ticket(database)
    token = token_for(database, "tickets:read", "tickets:write", agency_code=ours.code)
    client = app.test_client()
    listed = call(client, "GET", "/api/v1/tickets", token).json["data"]
    assert [t["number"] for t in listed] == [referred.number]
    assert call(client, "GET", f"/api/v1/tickets/{other.number}", token).status_code == 404
    assert call(client, "POST", "/api/v1/tickets", token, NEW).status_code == 403
    note = call(
        client, "POST", f"/api/v1/tickets/{referred.number}/notes", token, {"body": "รับทราบ"}
    )
    assert note.status_code == 201
    del theirs


def test_the_openapi_document_lists_every_api_route(app: Flask) -> None:
    spec = app.test_client().get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    documented = set(spec["paths"])
    routes = {re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", r.rule) for r in app.url_map.iter_rules()
              if r.rule.startswith("/api/v1/")}  # fmt: skip
    assert routes - {"/api/v1/openapi.json"} == documented
