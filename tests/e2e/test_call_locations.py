"""Issue #17, "never lose a complaint": every postal code leads to a filed ticket.

Each fault found in the walk-through is a call here: a code spanning two provinces, a corrected
code, a code with four districts, a caller who does not know the code, the information menu's
center for a code spanning provinces, and a recorded complaint whose place is refused.
"""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from hotline.demo.phone import PhoneSimulator
from hotline.runtime import runtime
from hotline.twilio.actions import LOCATION_UNKNOWN, CallInfo, file_complaint, ticket_digits
from tests.voice import OFFICE_HOURS
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import Ticket

# main menu 1, category 1 (land), then the postal code; after it: skip the ID, record, no SMS
START = ["1", "1"]
AFTER = ["#", "record:12", "2", "5"]
APOLOGY = "ระบบขัดข้องชั่วคราว"


def the_ticket(db: Database) -> Ticket:
    with UnitOfWork(db) as uow:
        return uow.session.scalars(select(Ticket).options(joinedload(Ticket.center))).one()


def test_a_code_spanning_two_provinces_names_each_district_with_its_province(
    database: Database, phone: PhoneSimulator
) -> None:
    transcript = phone.call([*START, "71170", "3", *AFTER])
    said = transcript.said()
    assert "รหัสนี้มีหลายอำเภอ" in said
    for place in ("อำเภอพนมทวน จังหวัดกาญจนบุรี กด 1", "อำเภอสองพี่น้อง จังหวัดสุพรรณบุรี กด 3",
                  "อำเภออู่ทอง จังหวัดสุพรรณบุรี กด 4"):  # fmt: skip
        assert place in said
    assert APOLOGY not in said
    ticket = the_ticket(database)
    assert (ticket.province_code, ticket.district_code, ticket.postal_code) == (
        "72",
        "7207",
        "71170",
    )
    assert ticket_digits(ticket.number) in said


def test_a_corrected_code_forgets_the_first_codes_province_and_district(
    database: Database, phone: PhoneSimulator
) -> None:
    transcript = phone.call([*START, "50200", "2", "31110", "1", *AFTER])
    assert APOLOGY not in transcript.said()
    ticket = the_ticket(database)
    assert (ticket.province_code, ticket.district_code, ticket.postal_code) == (
        "31",
        "3104",
        "31110",
    )


def test_every_district_of_a_four_district_code_can_be_picked(
    database: Database, phone: PhoneSimulator
) -> None:
    transcript = phone.call([*START, "31110", "4", *AFTER])
    assert "อำเภอเฉลิมพระเกียรติ จังหวัดบุรีรัมย์ กด 4" in transcript.said()
    assert the_ticket(database).district_code == "3123"


@pytest.mark.parametrize(
    ("keys", "province"),
    [(["#"], None), (["31110", "#"], "31"), (["71170", "#"], None)],
    ids=["no-code", "one-province", "two-provinces"],
)
def test_a_caller_who_does_not_know_files_with_the_place_flagged_for_an_agent(
    database: Database, phone: PhoneSimulator, keys: list[str], province: str | None
) -> None:
    transcript = phone.call([*START, *keys, *AFTER])
    said = transcript.said()
    assert "หากไม่ทราบ กดเครื่องหมายสี่เหลี่ยม" in said
    assert APOLOGY not in said
    ticket = the_ticket(database)
    assert ticket_digits(ticket.number) in said
    assert ticket.province_code == province and ticket.district_code is None
    assert ticket.description.startswith(LOCATION_UNKNOWN)
    assert ticket.center.kind == ("central" if province is None else "province")


def test_the_info_menu_names_the_center_of_the_district_picked(phone: PhoneSimulator) -> None:
    transcript = phone.call(["3", "3", "50200", "3", "71170", "3", "hangup"])
    said = transcript.said()
    # the second code spans Kanchanaburi and Suphanburi: key 3 is Song Phi Nong, Suphanburi
    assert said.rindex("จังหวัดสุพรรณบุรี") > said.rindex("ศาลากลางจังหวัดเชียงใหม่")
    assert "ศาลากลางจังหวัดสุพรรณบุรี" in said


def test_a_recorded_complaint_is_filed_even_when_its_place_and_id_are_refused(
    database: Database, voice_app: Flask
) -> None:
    """The recording callback's data (or a state from an older flow) may hold a district in
    another province and a citizen ID that fails its check: the complaint is filed anyway."""
    rt = runtime(voice_app)
    refused = {"category": "land", "province_code": "31", "district_code": "5001",
               "postal_code": "50200", "citizen_id": "1101700207031"}  # fmt: skip
    call = CallInfo("CA" + "7" * 32, "+66812345678", OFFICE_HOURS)
    filed = file_complaint(rt, call, refused)
    ticket = the_ticket(database)
    assert ticket.number == filed.number
    assert ticket.province_code is None and ticket.citizen_id is None
    assert ticket.description.startswith(LOCATION_UNKNOWN)
    assert file_complaint(rt, call, refused).number == filed.number  # replayed: the same ticket
