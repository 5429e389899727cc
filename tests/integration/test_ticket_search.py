"""Thai search and the ticket list's filters and keyset pages, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import text

from hotline.migrate import alembic_config
from tests.factories import SYSTEM, category_id, make_draft, make_ticket, make_user
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.errors import ValidationError
from ticketing.listing import Cursor, Sort, TicketFilter, list_tickets
from ticketing.models import Ticket
from ticketing.services import assign, change_status, open_ticket
from ticketing.statuses import TicketStatus

BANGKOK = ZoneInfo("Asia/Bangkok")
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def opened_at(database: Database, at: datetime, **overrides: object) -> Ticket:
    return open_ticket(UnitOfWork(database), make_draft(**overrides), SYSTEM, now=at)


def found(database: Database, query: str = "", **filters: object) -> list[str]:
    """Numbers of the tickets the list shows for ``query`` and ``filters`` (one page)."""
    with UnitOfWork(database) as uow:
        page = list_tickets(
            uow.session,
            TicketFilter(query=query, **filters),
            now=NOW,
            tz=BANGKOK,  # type: ignore[arg-type]
        )
    return [t.number for t in page.tickets]


@pytest.fixture
def water(database: Database) -> Ticket:
    return make_ticket(
        database,
        description="น้ำประปาไม่ไหลมาสามวันแล้ว บ้านเลขที่ 12/3",
        caller_phone="081-234-5678",
        citizen_name="สมศรี มีสุข",
    )


@pytest.fixture
def noise(database: Database) -> Ticket:
    return make_ticket(
        database,
        description="ร้านคาราโอเกะเปิดเพลงเสียงดังถึงตีสอง 100% ทุกคืน",
        caller_phone="02 123 4567",
        citizen_name="John Smith",
    )


def test_sub_words_and_whole_words_find_thai_text(
    database: Database, water: Ticket, noise: Ticket
) -> None:
    assert found(database, "ประปา") == [water.number]  # inside น้ำประปา, no spaces in Thai
    assert found(database, "น้ำประปาไม่ไหล") == [water.number]
    assert found(database, "เสียงดัง") == [noise.number]
    assert found(database, "ประปา ไม่ไหล") == [water.number]  # every term must match
    assert found(database, "ประปา เสียงดัง") == []
    assert found(database, "ไฟฟ้าดับ") == []
    assert found(database, "สมศรี") == [water.number]  # the citizen's name
    assert found(database, "JOHN smith") == [noise.number]  # Latin letters in any case


def test_ticket_numbers_with_or_without_dashes(database: Database, water: Ticket) -> None:
    make_ticket(database)
    dashed = f"{water.number[:2]}-{water.number[2:-1]}-{water.number[-1]}"
    assert found(database, water.number) == [water.number]
    assert found(database, dashed) == [water.number]
    assert found(database, f" {water.number[:2]} {water.number[2:-1]} {water.number[-1]} ") == [
        water.number
    ]


@pytest.mark.parametrize(
    "typed",
    ["0812345678", "081-234-5678", "081 234 5678", "+66812345678", "+66 81 234 5678",
     "66812345678", "(081) 234-5678", "๐๘๑๒๓๔๕๖๗๘", "5678"],
)  # fmt: skip
def test_phone_numbers_in_any_format(
    database: Database, water: Ticket, noise: Ticket, typed: str
) -> None:
    assert found(database, typed) == [water.number]


def test_landline_and_numbers_written_in_the_complaint(database: Database, noise: Ticket) -> None:
    mentioned = make_ticket(database, description="ติดต่อกลับที่เบอร์ 089-999-1234 ได้ตลอด")
    assert found(database, "021234567") == [noise.number]
    assert found(database, "+66 2 123 4567") == [noise.number]
    assert found(database, "0899991234") == [mentioned.number]


def test_thai_edge_cases_normalise_like_the_text(database: Database, water: Ticket) -> None:
    assert found(database, "น\u0e4d\u0e49าประปา") == [water.number]  # sara am typed as ํ + า
    assert found(database, "ประ\u200bปา") == [water.number]  # a zero-width space from a paste
    assert found(database, "บ้านเลขที่ ๑๒/๓") == [water.number]  # Thai digits
    assert found(database, "   ") == found(database, "")  # blank: no search at all


def test_like_wildcards_are_searched_for_literally(
    database: Database, water: Ticket, noise: Ticket
) -> None:
    assert found(database, "00%") == [noise.number]  # only the text with a percent sign
    assert found(database, "a_b") == []
    assert found(database, "12/3") == [water.number]


def test_filters_narrow_the_list(database: Database) -> None:
    agent = make_user(database, "agent")
    land = opened_at(database, NOW - timedelta(days=40))
    fraud = make_ticket(database, category_code="consumer_fraud", province_code="10",
                        district_code=None, postal_code=None)  # fmt: skip
    taken = opened_at(database, NOW - timedelta(days=2))
    assign(UnitOfWork(database), taken.id, agent.user_id, agent)
    change_status(UnitOfWork(database), taken.id, "accepted", agent)

    assert found(database, category_id=category_id(database, "consumer_fraud")) == [fraud.number]
    assert found(database, province_code="10") == [fraud.number]
    assert set(found(database, province_code="50")) == {land.number, taken.number}
    assert found(database, statuses=(TicketStatus.ACCEPTED,)) == [taken.number]
    assert found(database, assignee=agent.user_id) == [taken.number]
    assert set(found(database, assignee="none")) == {land.number, fraud.number}
    assert found(database, overdue=True) == [land.number]  # 40 days old, never finished


def test_date_range_uses_bangkok_days(database: Database) -> None:
    # 23 Nov 2026 23:30 in Bangkok is still 23 Nov there, though 16:30 UTC.
    late_evening = opened_at(database, datetime(2026, 11, 23, 16, 30, tzinfo=UTC))
    next_morning = opened_at(database, datetime(2026, 11, 23, 17, 30, tzinfo=UTC))
    day = date(2026, 11, 23)
    assert found(database, created_from=day, created_to=day) == [late_evening.number]
    assert found(database, created_from=day + timedelta(days=1)) == [next_morning.number]


@pytest.mark.parametrize("query", ["ไฟ", "ประปา ฮฮ", "x"])
def test_terms_too_short_for_the_trigram_index_are_refused(database: Database, query: str) -> None:
    with pytest.raises(ValidationError) as refused:
        found(database, query)
    assert refused.value.field == "q"


def test_training_tickets_are_never_listed(database: Database) -> None:
    make_ticket(database, is_training=True)
    assert found(database) == []


@pytest.mark.parametrize("sort", list(Sort))
def test_keyset_pages_walk_every_ticket_once_in_order(database: Database, sort: Sort) -> None:
    opened = [opened_at(database, NOW - timedelta(hours=hours)) for hours in (5, 1, 3, 3, 2, 4)]
    seen: list[Ticket] = []
    after: Cursor | None = None
    while True:
        with UnitOfWork(database) as uow:
            page = list_tickets(uow.session, TicketFilter(), sort=sort, after=after, now=NOW,
                                tz=BANGKOK, limit=2)  # fmt: skip
        seen += page.tickets
        if page.next_cursor is None:
            break
        after = Cursor.decode(page.next_cursor.encode())
    assert sorted(t.id for t in seen) == sorted(t.id for t in opened)
    column = "created_at" if sort in (Sort.NEWEST, Sort.OLDEST) else "due_at"
    keys = [(getattr(t, column), t.id) for t in seen]
    descending = sort in (Sort.NEWEST, Sort.DUE_LATEST)
    assert keys == sorted(keys, reverse=descending)


def test_the_migration_backfills_existing_tickets(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    cfg = alembic_config(db.url)
    command.upgrade(cfg, "0003")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO categories (id, code, name_th, name_en, sla_days, "
                "sort_order, is_active) VALUES (1, 'land', 'ที่ดิน', 'Land', 15, 0, 1)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO centers (id, code, kind, name_th, name_en) "
                "VALUES (1, 'central', 'central', 'ส่วนกลาง', 'Central')"
            )
        )
        conn.execute(text(
            "INSERT INTO tickets (number, serial, channel, category_id, description, caller_phone, "
            "center_id, status, priority, is_training, created_at, updated_at) VALUES "
            "('6900000012', 1, 'phone', 1, 'น้ำประปาไม่ไหล', '+66812345678', 1, 'received', "
            "'normal', 0, '2026-11-24 03:00:00', '2026-11-24 03:00:00')"
        ))  # fmt: skip
    command.upgrade(cfg, "head")
    with db.engine.connect() as conn:
        backfilled = conn.execute(text("SELECT search_text FROM tickets")).scalar_one()
    db.dispose()
    assert backfilled == "6900000012 0812345678 66812345678 น้ำประปาไม่ไหล"


def test_postgresql_serves_the_search_from_the_trigram_index(pg_database: Database) -> None:
    with pg_database.engine.begin() as conn:
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(
            conn.execute(
                text("EXPLAIN SELECT id FROM tickets WHERE search_text LIKE :p ESCAPE '\\'"),
                {"p": "%ประปา%"},
            ).scalars()
        )
    assert "ix_tickets_search_text_trgm" in plan
