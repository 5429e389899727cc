"""REST API: calls (masked numbers, IVR path, tickets) and referrals (agencies act on theirs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from hotline.calls.models import Call, CallEvent, call_tickets
from hotline.runtime import runtime
from tests.factories import SYSTEM, make_agency, make_ticket, make_user
from tests.integration.test_api import call, token_for
from tests.integration.test_ticket_services import row_counts
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import Referral, Ticket, User
from ticketing.services import change_status, refer
from ticketing.tokens import create_token

STARTED = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
CALL_SID = "CA" + "7" * 32


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


def make_referred_call(database: Database, agency_code: str | None = None) -> Referral:
    """A phoned-in ticket (call with an IVR path) referred to an agency."""
    agent = make_user(database, "agent")
    agency = make_agency(database, **({"code": agency_code} if agency_code else {}))
    ticket = make_ticket(database)
    with UnitOfWork(database) as uow:
        row = Call(call_sid=CALL_SID, from_number="+66812345678", to_number="+6621234567",
                   twilio_status="completed", outcome="self_service", last_node="goodbye",
                   started_at=STARTED, answered_at=STARTED, ended_at=STARTED + timedelta(minutes=3),
                   duration_s=180)  # fmt: skip
        uow.session.add(row)
        uow.session.flush()
        for second, node in enumerate(["welcome", "complaint_menu", "record", "goodbye"]):
            uow.session.add(CallEvent(call_id=row.id, kind="ivr_enter", node=node,
                                      at=STARTED + timedelta(seconds=second)))  # fmt: skip
        uow.session.add(CallEvent(call_id=row.id, kind="ivr_input", node="welcome", value="1",
                                  at=STARTED))  # fmt: skip
        uow.session.execute(call_tickets.insert().values(call_id=row.id, ticket_id=ticket.id))
        uow.commit()
    change_status(UnitOfWork(database), ticket.id, "accepted", agent)
    [referral] = refer(UnitOfWork(database), ticket.id, [agency.id], agent)
    return referral


def user_token(database: Database, role: str, *scopes: str) -> str:
    actor = make_user(database, role)
    with UnitOfWork(database) as uow:
        username = uow.session.get_one(User, actor.user_id).username
    return create_token(UnitOfWork(database), role, list(scopes), SYSTEM, username=username)[1]


def test_calls_show_outcome_times_ivr_path_and_tickets_with_the_number_masked(
    app: Flask, database: Database
) -> None:
    referral = make_referred_call(database)
    agent = token_for(database, "calls:read")
    client = app.test_client()
    listed = call(client, "GET", "/api/v1/calls", agent)
    assert listed.status_code == 200 and listed.json["next_cursor"] is None
    [data] = listed.json["data"]
    assert data["ivr_path"] == ["welcome", "complaint_menu", "record", "goodbye"]
    assert data["outcome"] == "self_service" and data["duration_s"] == 180
    assert data["caller_masked"] == "08x xxx 5678" and data["caller"] is None
    assert data["started_at"] == "2026-11-24T03:00:00Z"
    with UnitOfWork(database) as uow:
        ticket = uow.session.get_one(Ticket, referral.ticket_id)
    assert data["tickets"] == [ticket.number]
    one = call(client, "GET", f"/api/v1/calls/{CALL_SID}", agent).json["data"]
    assert one == data
    supervisor = user_token(database, "supervisor", "calls:read")
    whole = call(client, "GET", f"/api/v1/calls/{CALL_SID}", supervisor).json["data"]
    assert whole["caller"] == "+66812345678"
    filtered = call(client, "GET", f"/api/v1/calls?ticket={data['tickets'][0]}", agent)
    assert len(filtered.json["data"]) == 1
    assert call(client, "GET", "/api/v1/calls?outcome=abandoned_queue", agent).json["data"] == []
    assert call(client, "GET", "/api/v1/calls/CA404", agent).status_code == 404


def test_agency_tokens_may_not_read_calls(app: Flask, database: Database) -> None:
    make_referred_call(database, agency_code="landoffice")
    token = token_for(database, "calls:read", agency_code="landoffice")
    response = call(app.test_client(), "GET", "/api/v1/calls", token)
    assert response.status_code == 403 and response.json["error"]["code"] == "forbidden"


def test_an_agency_reads_and_answers_its_own_referrals_only(app: Flask, database: Database) -> None:
    ours = make_referred_call(database, agency_code="ours")
    theirs_agency = make_agency(database, code="theirs")
    token = token_for(database, "referrals:read", "referrals:write", agency_code="ours")
    other = token_for(database, "referrals:read", "referrals:write", agency_code="theirs")
    client = app.test_client()

    [listed] = call(client, "GET", "/api/v1/referrals", token).json["data"]
    assert listed["id"] == ours.id and listed["status"] == "sent" and listed["overdue"] is False
    assert "caller_phone" not in str(listed) and "สมชาย" not in str(listed)
    assert call(client, "GET", "/api/v1/referrals", other).json["data"] == []
    before = row_counts(database)
    for path in (f"/api/v1/referrals/{ours.id}", f"/api/v1/referrals/{ours.id}/answer"):
        method = "GET" if path.endswith(str(ours.id)) else "POST"
        refused = call(client, method, path, other, {"text": "ไม่ใช่ของเรา"})
        assert refused.status_code == 404, path
    assert row_counts(database) == before

    progress = call(client, "POST", f"/api/v1/referrals/{ours.id}/progress", token,
                    {"text": "กำลังตรวจสอบ"})  # fmt: skip
    assert progress.status_code == 200 and progress.json["data"]["status"] == "in_progress"
    answered = call(client, "POST", f"/api/v1/referrals/{ours.id}/answer", token,
                    {"text": "แก้ไขแล้ว"})  # fmt: skip
    assert answered.json["data"]["status"] == "answered"
    again = call(client, "POST", f"/api/v1/referrals/{ours.id}/send-back", token,
                 {"reason": "ไม่ใช่หน้าที่"})  # fmt: skip
    assert again.status_code == 422  # already answered
    del theirs_agency


def test_overdue_filter_follows_the_app_clock(app: Flask, database: Database) -> None:
    referral = make_referred_call(database)
    token = token_for(database, "referrals:read")
    client = app.test_client()
    assert call(client, "GET", "/api/v1/referrals?overdue=true", token).json["data"] == []
    runtime(app).clock = lambda: referral.due_at + timedelta(minutes=1)
    [late] = call(client, "GET", "/api/v1/referrals?overdue=true", token).json["data"]
    assert late["overdue"] is True
    assert call(client, "GET", "/api/v1/referrals?overdue=false", token).json["data"] == []


BAD: dict[str, tuple[str, str, Any, int]] = {
    "malformed JSON": ("POST", "answer", "{oops", 400),
    "not an object": ("POST", "answer", ["x"], 400),
    "wrong type": ("POST", "answer", {"text": 5}, 400),
    "unknown field": ("POST", "answer", {"text": "x", "status": "answered"}, 400),
    "missing field": ("POST", "send-back", {"text": "x"}, 400),
    "empty reason": ("POST", "send-back", {"reason": "   "}, 422),
    "oversized": ("POST", "progress", {"text": "ก" * 3_000_000}, 413),
    "too long": ("POST", "progress", {"text": "ก" * 6000}, 422),
}


@pytest.mark.parametrize(("method", "action", "body", "status"), BAD.values(), ids=BAD.keys())
def test_bad_referral_input_gets_a_4xx_and_writes_nothing(
    app: Flask, database: Database, method: str, action: str, body: Any, status: int
) -> None:
    referral = make_referred_call(database, agency_code="ours")
    token = token_for(database, "referrals:write", agency_code="ours")
    before = row_counts(database)
    path = f"/api/v1/referrals/{referral.id}/{action}"
    client = app.test_client()
    if isinstance(body, str):
        response = client.post(path, data=body, content_type="application/json",
                               headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    else:
        response = call(client, method, path, token, body)
    assert response.status_code == status, response.json
    assert response.json["error"]["message"] or response.json["error"]["code"]
    assert row_counts(database) == before


@pytest.mark.parametrize(
    "query", ["status=lost", "overdue=maybe", "sort=id", "cursor=dDE", "limit=1000"]
)
def test_bad_referral_queries_are_refused(app: Flask, database: Database, query: str) -> None:
    token = token_for(database, "referrals:read")
    response = call(app.test_client(), "GET", f"/api/v1/referrals?{query}", token)
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid"
