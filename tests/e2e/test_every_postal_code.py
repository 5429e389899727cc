"""Every postal code geothai knows leads to a filed ticket, on SQLite and PostgreSQL (#17).

Two walks, to keep the suite fast:

- every one of geothai's codes (976) goes through the engine of the default flow with the real
  validators and the real actions, so the real filing writes each ticket (one call per code,
  picking a different district from code to code so every position in the pick list is used);
- every code that spans two provinces and every four-district code is also a whole call through
  the signed webhooks (the phone simulator), picking the last district offered.

A whole webhook call per code on both databases would triple the suite's time for no more
coverage: the webhook layer does the same thing for every code.
"""

from __future__ import annotations

from functools import cache

import geothai
import pytest
from flask import Flask
from sqlalchemy import func, select

from hotline.demo.phone import PhoneSimulator
from hotline.runtime import runtime
from hotline.twilio.actions import ACTIONS, VALIDATORS, CallInfo, ticket_digits
from ivr_flows import engine
from ivr_flows.engine import PICK_PAGE, Act, CallerInput, Context, Outcome
from tests.voice import OFFICE_HOURS
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.locations import districts_for_postal_code
from ticketing.models import Ticket


@cache
def postal_codes() -> tuple[str, ...]:
    return tuple(sorted({code for province in geothai.provinces()
                         for district in geothai.districts(province.code)
                         for sub in geothai.subdistricts(district.code)
                         for code in sub.postal_codes}))  # fmt: skip


def spans_provinces(code: str) -> bool:
    return len({c.province_code for c in districts_for_postal_code(code)}) > 1


HARD_CODES = [
    c for c in postal_codes() if spans_provinces(c) or len(districts_for_postal_code(c)) == 4
]


def test_geothai_has_the_codes_the_issue_names() -> None:
    codes = postal_codes()
    assert len(codes) > 900
    assert {"71170", "13180", "83000"} <= {c for c in codes if spans_provinces(c)}
    assert len([c for c in codes if spans_provinces(c)]) == 14
    assert len([c for c in codes if len(districts_for_postal_code(c)) == 4]) == 8


def test_every_postal_code_files_a_ticket_through_the_engine(
    database: Database, voice_app: Flask
) -> None:
    rt = runtime(voice_app)
    flow = rt.ivr.flow
    ctx = Context(now=OFFICE_HOURS, validators=VALIDATORS)
    expected: dict[str, tuple[str, str]] = {}
    for i, code in enumerate(postal_codes()):
        call = CallInfo(f"CA{i:032d}", "+66812345678", OFFICE_HOURS)
        districts = districts_for_postal_code(code)
        pick = i % len(districts)
        out = run(rt, call, engine.start(flow, ctx), ctx)
        for given in ("1", "1", code):
            out = run(rt, call, engine.handle(flow, out.state, CallerInput(digits=given), ctx), ctx)
        assert out.state.node == "postal_code" and out.state.confirming == code, code
        key = str(pick + 1) if PICK_PAGE in out.state.data else "1"
        assert (PICK_PAGE in out.state.data) == (len(districts) > 1), code
        for given in (key, "#"):
            out = run(rt, call, engine.handle(flow, out.state, CallerInput(digits=given), ctx), ctx)
        assert out.state.node == "record_complaint", code
        recorded = CallerInput(recording={"sid": f"RE{i:032d}", "duration": "9"})
        out = run(rt, call, engine.handle(flow, out.state, recorded, ctx), ctx)
        assert out.state.data["ticket_digits"], code
        chosen = districts[pick]
        expected[out.state.data["ticket_number"]] = (chosen.province_code, chosen.district_code)
    with UnitOfWork(database) as uow:
        rows = uow.session.execute(
            select(Ticket.number, Ticket.province_code, Ticket.district_code)
        ).all()
    assert {r.number: (r.province_code, r.district_code) for r in rows} == expected


def run(rt: object, call: CallInfo, out: Outcome, ctx: Context) -> engine.Play:
    """Run the actions the engine asks for, as the voice webhook does."""
    flow = rt.ivr.flow  # type: ignore[attr-defined]
    while isinstance(out, Act):
        done = ACTIONS[out.action](rt, out.state, call)  # type: ignore[arg-type]
        out = engine.resume(flow, out.state, done.result, ctx)
    return out


@pytest.mark.parametrize("code", HARD_CODES)
def test_a_whole_call_files_every_multi_province_and_four_district_code(
    database: Database, phone: PhoneSimulator, code: str
) -> None:
    districts = districts_for_postal_code(code)
    last = districts[-1]
    transcript = phone.call(["1", "1", code, str(len(districts)), "#", "record:9", "2", "5"])
    with UnitOfWork(database) as uow:
        ticket = uow.session.scalars(select(Ticket)).one()
        assert uow.session.scalar(select(func.count()).select_from(Ticket)) == 1
    assert (ticket.province_code, ticket.district_code) == (last.province_code, last.district_code)
    assert ticket_digits(ticket.number) in transcript.said()
