"""The metrics pages: dashboard, exports, access by role, staffing (Erlang C) and the wallboard."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from hotline.calls.desk import set_state_by_hand
from hotline.runtime import runtime
from tests.factories import SYSTEM, make_agency, make_draft, make_user
from tests.integration.metrics_fixture import AGENTS_NOW, T0, add_call, load, load_agents
from tests.integration.test_console_auth import sign_in, username_of
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.services import change_status, open_ticket, refer

FIXTURE_DAY = {"from": "2026-11-02", "to": "2026-11-02"}


@pytest.fixture
def app(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    return make_app(recordings_dir=tmp_path / "recordings")


def client_for(app: Flask, database: Database, role: str, **user: object) -> FlaskClient:
    client = app.test_client()
    actor = make_user(database, role, **user)
    assert sign_in(client, username_of(database, actor.user_id)) == 302
    return client


def test_the_dashboard_shows_the_hand_computed_figures_and_charts(
    app: Flask, database: Database
) -> None:
    load(database, None)
    client = client_for(app, database, "supervisor")
    page = client.get("/console/metrics", query_string={**FIXTURE_DAY, "interval": "hour"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-figure="calls">6<' in html
    assert 'data-figure="service-level">33.3%<' in html
    for chart in ("calls", "heatmap", "funnel", "categories", "provinces"):
        assert f'data-chart="{chart}"' in html
    assert "สายที่วางระหว่างรอนับเป็นสายที่ไม่ได้รับภายในเวลา" in html  # the SL rule is stated


def test_tables_export_as_csv_and_xlsx(app: Flask, database: Database) -> None:
    load(database, None)
    client = client_for(app, database, "admin")
    csv = client.get(
        "/console/metrics/export/funnel", query_string={**FIXTURE_DAY, "format": "csv"}
    )
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.headers["Content-Type"] == "text/csv; charset=utf-8"  # once, not twice
    lines = csv.get_data().decode("utf-8-sig").splitlines()
    assert lines[1] == "main_menu,3,1,1,1,1,1"
    calls = client.get(
        "/console/metrics/export/calls",
        query_string={**FIXTURE_DAY, "format": "csv", "interval": "hour"},
    )
    first = calls.get_data().decode("utf-8-sig").splitlines()[1]
    assert first.startswith("2026-11-02T") and "+07:00" in first.split(",")[0]  # ISO, not 2/11/2569
    xlsx = client.get(
        "/console/metrics/export/calls", query_string={**FIXTURE_DAY, "format": "xlsx"}
    )
    assert "attachment" in xlsx.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(xlsx.get_data())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][1:5] == (6, 4, 2, 1)  # calls, offered, answered, abandoned (short left out)
    day = rows[1][0]
    assert isinstance(day, datetime) and day.isoformat() == "2026-11-02T00:00:00"  # not "2/11/2569"
    missing = client.get("/console/metrics/export/nothing", query_string=FIXTURE_DAY)
    assert missing.status_code == 404


@pytest.mark.parametrize(
    "query",
    [{"interval": "month"}, {"from": "2026-13-01"}, {"from": "2026-11-02", "to": "2026-11-01"},
     {"province": "99"},
     {"interval": "hour", "from": "2026-01-01", "to": "2026-03-01"}, {"center": "x"},
     {"from": "2020-01-01", "to": "2026-01-01"}],
)  # fmt: skip
def test_bad_filters_are_refused_with_400(
    app: Flask, database: Database, query: dict[str, str]
) -> None:
    client = client_for(app, database, "supervisor")
    assert client.get("/console/metrics", query_string=query).status_code == 400


def exported_tickets(client: FlaskClient) -> int:
    """Tickets counted in the status table's CSV export."""
    csv = client.get("/console/metrics/export/statuses", query_string={"format": "csv"})
    lines = csv.get_data().decode("utf-8-sig").splitlines()[1:]
    return sum(int(line.rsplit(",", 1)[1]) for line in lines)


def test_agency_users_see_only_what_was_referred_to_them(app: Flask, database: Database) -> None:
    agency = make_agency(database)
    # Filed at the app's clock: at the real time, after 17:00 UTC it is already tomorrow in
    # Bangkok, past the default period's last day.
    filed_at = runtime(app).clock()
    referred = open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=filed_at)
    open_ticket(UnitOfWork(database), make_draft(), SYSTEM, now=filed_at)
    change_status(UnitOfWork(database), referred.id, "accepted", SYSTEM)
    refer(UnitOfWork(database), referred.id, [agency.id], SYSTEM)
    load(database, None)
    agency_client = client_for(app, database, "agency", agency_code=agency.code)
    page = agency_client.get("/console/metrics").get_data(as_text=True)
    assert 'data-chart="calls"' not in page and 'data-figure="calls"' not in page
    statuses = agency_client.get("/console/metrics/export/statuses", query_string={"format": "csv"})
    assert (
        sum(
            int(line.rsplit(",", 1)[1])
            for line in statuses.get_data().decode("utf-8-sig").splitlines()[1:]
        )
        == 1
    )
    calls = agency_client.get("/console/metrics/export/calls", query_string=FIXTURE_DAY)
    assert calls.status_code == 404
    supervisor = client_for(app, database, "supervisor")
    everything = supervisor.get("/console/metrics/export/statuses", query_string={"format": "csv"})
    assert (
        sum(
            int(line.rsplit(",", 1)[1])
            for line in everything.get_data().decode("utf-8-sig").splitlines()[1:]
        )
        == 2
    )


def test_agents_are_refused_the_supervisor_pages(app: Flask, database: Database) -> None:
    client = client_for(app, database, "agent")
    for path in ("/console/metrics", "/console/wallboard", "/console/staffing",
                 "/console/wallboard/stream"):  # fmt: skip
        assert client.get(path).status_code == 403


def test_staffing_matches_the_textbook_case(app: Flask, database: Database) -> None:
    client = client_for(app, database, "supervisor")
    page = client.get("/console/staffing", query_string={"calls": 100, "aht": 180, "agents": 14})
    html = page.get_data(as_text=True)
    assert 'data-figure="service-level">88.8%<' in html
    assert 'data-figure="asa">7.8<' in html
    too_few = client.get("/console/staffing", query_string={"calls": 100, "aht": 180, "agents": 9})
    assert too_few.status_code == 400
    assert client.get("/console/staffing", query_string={"target": "abc"}).status_code == 400


def test_staffing_plans_each_half_hour_from_observed_calls(app: Flask, database: Database) -> None:
    load(database, None)
    client = client_for(app, database, "supervisor")
    html = client.get("/console/staffing", query_string={"day": "2026-11-02"}).get_data(
        as_text=True
    )
    # 09:00 Bangkok: 3 calls offered, one handled (200 s); 09:30: 1 offered, handled in 120 s.
    assert '<td class="mono">09:00</td><td class="mono">3</td><td class="mono">200</td>' in html
    assert '<td class="mono">09:30</td><td class="mono">1</td><td class="mono">120</td>' in html


def live_events(client: FlaskClient) -> Iterator[dict[str, int]]:
    response = client.get("/console/wallboard/stream")
    assert response.mimetype == "text/event-stream"
    buffer = ""
    for chunk in response.response:  # type: ignore[union-attr]
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            message, buffer = buffer.split("\n\n", 1)
            if message.startswith("event: live"):
                yield json.loads(message.split("data: ", 1)[1])


def test_the_wallboard_shows_a_new_call_event_within_two_seconds(
    app: Flask, database: Database
) -> None:
    now = T0 + timedelta(hours=5)
    runtime(app).clock = lambda: now
    client = client_for(app, database, "supervisor")
    assert client.get("/console/wallboard").status_code == 200
    stream = live_events(client)
    assert next(stream)["waiting"] == 0
    queued_at = time.monotonic()
    add_call(database, "CA-waiting", now - timedelta(seconds=50), [
        (0, "ivr_enter", "main_menu", None, None), (20, "ivr_enter", "to_agent", None, None),
        (20, "enqueue", "to_agent", "agents", None)], end_after=None)  # fmt: skip
    figures = next(stream)
    assert time.monotonic() - queued_at < 2.0
    assert figures["waiting"] == 1 and figures["longest_wait_s"] == 30


def test_the_wallboard_shows_an_agent_state_change_within_two_seconds(
    app: Flask, database: Database
) -> None:
    now = T0 + timedelta(hours=5)
    runtime(app).clock = lambda: now
    first, second = make_user(database, "agent"), make_user(database, "agent")
    assert first.user_id is not None and second.user_id is not None
    set_state_by_hand(database, first.user_id, "available", now)
    set_state_by_hand(database, second.user_id, "away", now)
    client = client_for(app, database, "supervisor")
    html = client.get("/console/wallboard").get_data(as_text=True)
    assert 'data-live="agents_available">1<' in html and 'data-live="agents_away">1<' in html
    stream = live_events(client)
    shown = next(stream)
    assert (shown["agents_available"], shown["agents_on_call"], shown["agents_wrap_up"],
            shown["agents_away"]) == (1, 0, 0, 1)  # fmt: skip
    changed_at = time.monotonic()
    set_state_by_hand(database, second.user_id, "available", now)
    shown = next(stream)
    assert time.monotonic() - changed_at < 2.0
    assert (shown["agents_available"], shown["agents_away"]) == (2, 0)


def test_the_dashboard_shows_occupancy_and_agents_from_the_desk(
    app: Flask, database: Database
) -> None:
    runtime(app).clock = lambda: AGENTS_NOW
    p = make_user(database, "agent", display_name="พีระ ทดสอบ")
    q = make_user(database, "agent", display_name="ควรคิด ทดสอบ")
    assert p.user_id is not None and q.user_id is not None
    load_agents(database, p.user_id, q.user_id)
    client = client_for(app, database, "supervisor")
    html = client.get("/console/metrics", query_string=FIXTURE_DAY).get_data(as_text=True)
    assert 'data-figure="occupancy">6.1%<' in html  # 600 / 9900
    csv = client.get(
        "/console/metrics/export/agents", query_string={**FIXTURE_DAY, "format": "csv"}
    )
    lines = csv.get_data().decode("utf-8-sig").splitlines()
    # name, calls handled, AHT, wrap-up, signed-in hours, occupancy %
    assert lines[1:] == ["พีระ ทดสอบ,2,302,90,1.0,16.7", "ควรคิด ทดสอบ,0,,,1.8,0.0"]


def test_staffing_shows_the_agents_signed_in_beside_the_plan(
    app: Flask, database: Database
) -> None:
    runtime(app).clock = lambda: AGENTS_NOW
    p, q = make_user(database, "agent"), make_user(database, "agent")
    assert p.user_id is not None and q.user_id is not None
    load_agents(database, p.user_id, q.user_id)
    client = client_for(app, database, "supervisor")
    html = client.get("/console/staffing", query_string={"day": "2026-11-02"}).get_data(
        as_text=True
    )
    signed_in = re.findall(
        r'<td class="mono">(\d\d:\d\d)</td>.*?data-signed-in>([^<]+)<', html, re.S
    )
    # agent-seconds signed in / 1800 per half-hour (14:00 also has call G offered)
    assert signed_in == [("13:30", "0.3"), ("14:00", "1.7"), ("14:30", "1.2"), ("15:00", "1.3"),
                         ("15:30", "1.0")]  # fmt: skip
    now_line = re.search(r"data-signed-in-now>([^<]+)<", html)
    assert now_line is not None
    assert "ขณะนี้ 1 คน" in now_line.group(1) and "ไม่อยู่ 1 คน" in now_line.group(1)
    quiet = re.search(
        r'<td class="mono">15:30</td><td class="mono">0</td><td class="mono">([^<]+)<', html
    )
    assert quiet is not None and quiet.group(1) == "—"  # no calls: no AHT to show
