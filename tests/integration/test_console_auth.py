"""Sign-in, CSRF, roles on every route, and recording playback with Range and audit."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from recordings.models import Recording
from recordings.storage import FilesystemStore, key_for
from tests.factories import make_agency, make_ticket, make_user
from tests.integration.test_ticket_services import row_counts
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import AuditEvent
from ticketing.users import set_password

PASSWORD = "correct horse battery"
PUBLIC = {"static", "health.healthz", "health.readyz", "auth.login", "auth.login_post",
          "auth.logout", "index"}  # fmt: skip
CONSOLE_BLUEPRINTS = {"console", "ticket_list", "ticket", "new_ticket", "referrals", "desk"}


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(recordings_dir=tmp_path / "recordings")


def csrf(client: FlaskClient, path: str = "/auth/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the form carries a CSRF token"
    return match.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> int:
    token = csrf(client)
    response = client.post("/auth/login", data={"username": username, "password": password,
                                                "csrf_token": token})  # fmt: skip
    return response.status_code


def username_of(database: Database, actor_user_id: int | None) -> str:
    from ticketing.models import User

    with UnitOfWork(database) as uow:
        user = uow.session.get(User, actor_user_id)
        assert user is not None
        return user.username


def test_sign_in_and_out(app: Flask, database: Database) -> None:
    agent = make_user(database, "agent")
    client = app.test_client()
    assert client.get("/console/", headers={"Accept": "text/html"}).status_code == 302
    login_page = client.get("/auth/login").get_data(as_text=True)
    assert "เข้าสู่ระบบ" in login_page and 'lang="th"' in login_page
    assert sign_in(client, username_of(database, agent.user_id), "wrong password") == 401
    response = client.post("/auth/login", data={"username": username_of(database, agent.user_id),
                           "password": PASSWORD, "csrf_token": csrf(client)})  # fmt: skip
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/console/").status_code == 200
    assert client.post("/auth/logout").status_code == 400  # no CSRF token: refused
    assert (
        client.post("/auth/logout", data={"csrf_token": csrf(client, "/console/")}).status_code
        == 302
    )
    assert client.get("/console/", headers={"Accept": "text/html"}).status_code == 302


def test_forms_without_the_csrf_token_are_refused(app: Flask, database: Database) -> None:
    agent = make_user(database, "agent")
    client = app.test_client()
    client.get("/auth/login")
    response = client.post("/auth/login", data={"username": username_of(database, agent.user_id),
                                                "password": PASSWORD})  # fmt: skip
    assert response.status_code == 400


def test_too_many_failures_lock_the_username_for_a_while(app: Flask, database: Database) -> None:
    agent = make_user(database, "agent")
    name = username_of(database, agent.user_id)
    client = app.test_client()
    for _ in range(5):
        assert sign_in(client, name, "wrong password") == 401
    assert sign_in(client, name) == 429  # even the right password waits


def test_a_password_change_signs_out_other_sessions(app: Flask, database: Database) -> None:
    agent = make_user(database, "agent")
    client = app.test_client()
    sign_in(client, username_of(database, agent.user_id))
    assert client.get("/console/").status_code == 200
    set_password(
        UnitOfWork(database), username_of(database, agent.user_id), "a brand new password", agent
    )
    assert client.get("/console/", headers={"Accept": "application/json"}).status_code == 401


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "/%09/evil.example", "/%5Cevil.example", "https://evil.example"]
)
def test_next_never_leaves_the_site(app: Flask, database: Database, target: str) -> None:
    agent = make_user(database, "agent")
    client = app.test_client()
    token = csrf(client)
    form = {
        "username": username_of(database, agent.user_id),
        "password": PASSWORD,
        "csrf_token": token,
    }
    response = client.post(f"/auth/login?next={target}", data=form)
    assert response.headers["Location"] == "/console/"


# Every route, every role ------------------------------------------------------------------------


def visit(client: FlaskClient, method: str, path: str) -> int:
    """GET, or POST with the session's CSRF token (so the role check, not CSRF, answers)."""
    headers = {"Accept": "application/json"}
    if method == "GET":
        return client.get(path, headers=headers).status_code
    token = csrf(client)
    return client.post(path, data={"csrf_token": token}, headers=headers).status_code


def routes(app: Flask) -> list[tuple[str, str, str, frozenset[str] | None]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.rule.startswith("/twilio/"):
            continue
        view = app.view_functions[rule.endpoint]
        if getattr(view, "auth_scheme", None) in ("bearer", "public", "twilio-basic"):
            continue  # bearer tokens (test_api.py); Twilio-style Basic auth (simulator media)
        value = "6900000012" if "number" in rule.arguments else "RE" + "0" * 32
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        path = re.sub(r"<(?:\w+:)?(\w+)>", value, path)
        method = "GET" if "GET" in (rule.methods or ()) else "POST"
        found.append((rule.endpoint, method, path, getattr(view, "allowed_roles", None)))
    return found


def test_every_route_declares_its_roles_and_enforces_them(app: Flask, database: Database) -> None:
    agency = make_agency(database)
    users = {role: make_user(database, role) for role in ("agent", "supervisor", "admin")}
    users["agency"] = make_user(database, "agency", agency_code=agency.code)
    checked, walked = 0, set()
    for endpoint, method, path, allowed in routes(app):
        walked.add(endpoint.partition(".")[0])
        assert allowed is not None, f"{endpoint} ({path}) does not declare who may use it"
        assert visit(app.test_client(), method, path) == 401, f"{endpoint} let an anonymous user in"
        for role, actor in users.items():
            client = app.test_client()
            sign_in(client, username_of(database, actor.user_id))
            status = visit(client, method, path)
            if role in {r.value for r in allowed}:
                assert status != 403, f"{role} refused at {endpoint}"
            else:
                assert status == 403, f"{role} reached {endpoint} ({status})"
            checked += 1
    assert checked >= 8
    assert sorted(CONSOLE_BLUEPRINTS - walked) == [], "console blueprints left out of the walk"


# Recording playback -----------------------------------------------------------------------------

AUDIO = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def stored_recording(app: Flask, database: Database, tmp_path: Path) -> str:
    ticket = make_ticket(database)
    sid = "RE" + "a" * 32
    stored = FilesystemStore(tmp_path / "recordings").put(key_for(sid, "wav"), [AUDIO])
    with UnitOfWork(database) as uow:
        uow.session.add(Recording(sid=sid, call_sid="CA" + "1" * 32, ticket_id=ticket.id,
                                  state="stored", storage_key=stored.key, sha256=stored.sha256,
                                  size_bytes=stored.size, content_type="audio/wav"))  # fmt: skip
        uow.commit()
    return sid


def plays(database: Database, sid: str) -> int:
    with UnitOfWork(database) as uow:
        query = (
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "recording.play", AuditEvent.entity_id == sid)
        )
        return int(uow.session.scalar(query) or 0)


def test_playback_streams_with_range_and_audits_each_playback(
    app: Flask, database: Database, stored_recording: str
) -> None:
    agent = make_user(database, "agent")
    client = app.test_client()
    sign_in(client, username_of(database, agent.user_id))
    url = f"/console/recordings/{stored_recording}/audio"

    whole = client.get(url)
    assert whole.status_code == 200 and whole.data == AUDIO and whole.mimetype == "audio/wav"
    assert (
        whole.headers["Accept-Ranges"] == "bytes" and "no-store" in whole.headers["Cache-Control"]
    )

    first = client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206 and first.data == AUDIO[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{len(AUDIO)}"
    seek = client.get(url, headers={"Range": "bytes=5000-"})
    assert seek.status_code == 206 and seek.data == AUDIO[5000:]
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.data == AUDIO[-10:]
    assert client.get(url, headers={"Range": "bytes=99999-"}).status_code == 416

    assert plays(database, stored_recording) == 2  # two playbacks from the start; seeks are not
    with UnitOfWork(database) as uow:
        audit = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.action == "recording.play")
        ).first()
        assert audit is not None and audit.actor_id == agent.user_id and audit.ip == "127.0.0.1"


def test_playback_refuses_the_wrong_role_unknown_and_purged(
    app: Flask, database: Database, stored_recording: str
) -> None:
    agency = make_agency(database)
    outsider = make_user(database, "agency", agency_code=agency.code)
    agent = make_user(database, "agent")
    client = app.test_client()
    sign_in(client, username_of(database, outsider.user_id))
    assert client.get(f"/console/recordings/{stored_recording}/audio").status_code == 403
    client = app.test_client()
    sign_in(client, username_of(database, agent.user_id))
    assert client.get("/console/recordings/RE" + "b" * 32 + "/audio").status_code == 404
    with UnitOfWork(database) as uow:
        row = uow.session.scalars(select(Recording)).one()
        row.state = "purged"
        uow.commit()
    assert client.get(f"/console/recordings/{stored_recording}/audio").status_code == 410
    assert plays(database, stored_recording) == 0


def test_the_home_page_offers_a_player_for_a_tickets_recording(
    app: Flask, database: Database, stored_recording: str
) -> None:
    agent = make_user(database, "agent")
    client = app.test_client()
    sign_in(client, username_of(database, agent.user_id))
    page = client.get("/console/").get_data(as_text=True)
    assert f'src="/console/recordings/{stored_recording}/audio"' in page
    assert plays(database, stored_recording) == 0  # preload="none": listing is not playing


def test_a_ticket_page_shows_its_timeline_and_takes_notes_and_status_changes(
    app: Flask, database: Database, stored_recording: str
) -> None:
    agent = make_user(database, "agent")
    client = app.test_client()
    sign_in(client, username_of(database, agent.user_id))
    with UnitOfWork(database) as uow:
        row = uow.session.scalars(select(Recording)).one()
        from ticketing.models import Ticket

        ticket = uow.session.get(Ticket, row.ticket_id)
        assert ticket is not None
        number = ticket.number
    page = client.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert "สถานะ: รับเรื่องแล้ว" in page and f"/console/recordings/{stored_recording}/audio" in page
    token = csrf(client, f"/console/tickets/{number}")
    note = {"body": "โทรกลับแจ้งผู้ร้องแล้ว", "public": "1", "csrf_token": token}
    noted = client.post(f"/console/tickets/{number}/notes", data=note)
    assert noted.status_code == 302
    client.post(
        f"/console/tickets/{number}/status", data={"status": "accepted", "csrf_token": token}
    )
    page = client.get(f"/console/tickets/{number}").get_data(as_text=True)
    assert "โทรกลับแจ้งผู้ร้องแล้ว" in page and "สถานะ: รับพิจารณา" in page
    before = row_counts(database)
    illegal = {"status": "closed", "csrf_token": token}
    refused = client.post(f"/console/tickets/{number}/status", data=illegal, follow_redirects=True)
    assert "ทำรายการไม่สำเร็จ" in refused.get_data(as_text=True)
    assert row_counts(database) == before
    assert client.get("/console/tickets/6900012347").status_code == 404  # a mistyped number
