"""Benchmark: Thai ticket search and the console's ticket list on a large PostgreSQL database.

Loads BENCH_TICKETS synthetic Thai complaints (default 1,000,000) into a database of its own
(created when missing; a load of the same size is reused), then prints one JSON line with p50
and p95 latencies in milliseconds:

- ``baseline_pk``: one ticket by primary key, through the same session setup (the floor);
- ``search_*``: ``list_tickets`` with a query — whole words, sub-words, ticket numbers, phone
  numbers (in the formats people type), a word no ticket has (the worst case for a
  newest-first scan), a phone prefix found in about 1 ticket in 1,000 (the case between the
  two plans), two terms, and a sub-word within one province;
- ``page_*``: GET /console/tickets through the Flask app (signed in, rendered), unfiltered,
  filtered, its next page (keyset), and with a search.

Target (issue 5): p95 under 100 ms at 1,000,000 tickets.

    BENCH_TICKETS=1000000 python bench/search.py
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.settings import Settings
from hotline import create_app
from hotline.migrate import upgrade
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.listing import TicketFilter, list_tickets
from ticketing.models import Category, Center, CenterKind, Ticket
from ticketing.numbers import be_year_of, make_ticket_number
from ticketing.permissions import Actor
from ticketing.search import search_document
from ticketing.users import NewUser, create_user

URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1/bench_search")
TICKETS = int(os.environ.get("BENCH_TICKETS", "1000000"))
SAMPLES = int(os.environ.get("BENCH_SAMPLES", "40"))
SEED = 1567
BANGKOK_TZ = Settings().tz
PASSWORD = "bench password 1567"  # noqa: S105 - a throwaway user in the bench database

COMPLAINTS = [
    "น้ำประปาไม่ไหลมาสามวันแล้ว", "ไฟฟ้าดับบ่อยทั้งหมู่บ้าน", "ถนนชำรุดเป็นหลุมเป็นบ่อ",
    "ร้านคาราโอเกะเปิดเพลงเสียงดังทั้งคืน", "เพื่อนบ้านรุกล้ำที่ดินทำรั้วทับแนวเขต",
    "ถูกเจ้าหนี้นอกระบบทวงหนี้ข่มขู่", "ขยะไม่มีคนมาเก็บส่งกลิ่นเหม็น",
    "โรงงานปล่อยน้ำเสียลงคลอง", "เจ้าหน้าที่เรียกรับเงินใต้โต๊ะ", "มีบ่อนการพนันในชุมชน",
    "ซื้อสินค้าออนไลน์แล้วไม่ได้รับของ", "ไฟส่องสว่างริมทางเสีย", "ท่อระบายน้ำอุดตันน้ำท่วมขัง",
    "สุนัขจรจัดกัดคนในซอย", "ขอความช่วยเหลือค่ารักษาพยาบาล", "รถบรรทุกวิ่งเร็วเกินกำหนด",
    "ต้นไม้ล้มขวางถนน", "ค่าน้ำประปาแพงผิดปกติ", "การไฟฟ้าคิดค่าไฟเกินจริง",
    "มีการลักลอบเผาขยะควันเต็มหมู่บ้าน", "ขอให้ตรวจสอบการออกโฉนดที่ดิน",
    "ผู้สูงอายุไม่ได้รับเบี้ยยังชีพ", "แก๊งคอลเซ็นเตอร์โทรหลอกให้โอนเงิน",
    "สายสื่อสารห้อยต่ำเกะกะ", "น้ำประปาขุ่นมีตะกอน", "ถูกเลิกจ้างโดยไม่ได้รับค่าชดเชย",
]  # fmt: skip
ASKS = ["ขอให้เร่งแก้ไขด้วยครับ", "ขอให้ตรวจสอบด่วนค่ะ", "แจ้งหลายครั้งแล้วยังไม่มีใครมาดู",
        "ชาวบ้านเดือดร้อนมาก", "", ""]  # fmt: skip
PLACES = ["หมู่ 3 ตำบลสุเทพ", "ซอยวัดใหม่ ตำบลในเมือง", "ชุมชนริมคลอง", "หน้าโรงเรียนบ้านหนองบัว",
          "ตลาดสดเทศบาล", "หมู่บ้านจัดสรรสุขสันต์"]  # fmt: skip
FIRST = ["สมชาย", "สมหญิง", "ประเสริฐ", "มาลี", "วิชัย", "สุดา", "อำนาจ", "บุญมี", "จันทร์เพ็ญ",
         "ธนพล", "กาญจนา", "สมศักดิ์"]  # fmt: skip
LAST = ["ใจดี", "ศรีสุข", "มั่นคง", "ทองคำ", "แสงทอง", "บุญรอด", "พึ่งบุญ", "สายสุวรรณ"]
STATUSES = ["received"] * 10 + ["accepted"] * 15 + ["referred"] * 25 + ["in_progress"] * 15 + \
           ["resolved"] * 20 + ["closed"] * 12 + ["rejected"] * 2 + ["duplicate"]  # fmt: skip
WHOLE_WORDS = ["ไฟฟ้าดับ", "น้ำประปาไม่ไหล", "ถนนชำรุด", "เจ้าหนี้นอกระบบ", "ท่อระบายน้ำอุดตัน",
               "สุนัขจรจัด", "เบี้ยยังชีพ"]  # fmt: skip
SUB_WORDS = ["ประปา", "หนี้", "คอลเซ็น", "ระบาย", "โฉนด", "ขยะ", "เสียงดัง"]
MOBILE_PREFIXES = ["81", "82", "84", "86", "89", "91", "92", "95", "98", "63", "64", "65"]
MISSING_WORD = "ช้างเผือกบินได้"
COLUMNS = ("number", "serial", "channel", "category_id", "description", "caller_phone",
           "citizen_name", "province_code", "center_id", "status", "priority", "due_at",
           "is_training", "created_at", "updated_at", "search_text")  # fmt: skip


# Loading ----------------------------------------------------------------------------------------


def ensure_database() -> Database:
    admin_url, _, name = URL.rpartition("/")
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://") + "/postgres",
        isolation_level="AUTOCOMMIT",
    )
    with engine.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if not exists:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    db = Database.connect(URL)
    upgrade(db)
    return db


def load(db: Database) -> float:
    """Replace the tickets with TICKETS synthetic ones (COPY); seconds taken, 0 when reused."""
    with db.engine.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM tickets WHERE NOT is_training"))
    if count == TICKETS:
        return 0.0
    started = time.perf_counter()
    categories, centers = _reference(db)
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("TRUNCATE tickets RESTART IDENTITY CASCADE")
        cur.execute("DROP INDEX IF EXISTS ix_tickets_search_text_trgm")
        with cur.copy(f"COPY tickets ({', '.join(COLUMNS)}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in _progress(_rows(categories, centers), TICKETS, "loading tickets"):
                copy.write_row(row)
        raw.commit()
        _say("building the trigram index (pg_trgm GIN) …")
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute(
            "CREATE INDEX ix_tickets_search_text_trgm ON tickets "
            "USING gin (search_text gin_trgm_ops)"
        )
        cur.execute(f"SELECT setval('ticket_serial_seq', {TICKETS + 1})")
        raw.commit()
        _say("analysing …")
        cur.execute("ANALYZE tickets")
        raw.commit()
    finally:
        raw.close()
    return time.perf_counter() - started


def _reference(db: Database) -> tuple[list[int], dict[str, int]]:
    with UnitOfWork(db) as uow:
        categories = list(uow.session.scalars(select(Category.id)))
        centers = {
            code: center_id
            for code, center_id in uow.session.execute(
                select(Center.province_code, Center.id).where(Center.kind == CenterKind.PROVINCE)
            )
            if code
        }
    return categories, centers


def _rows(categories: list[int], centers: dict[str, int]) -> Iterator[tuple[object, ...]]:
    rng = random.Random(SEED)
    provinces = sorted(centers)
    end = datetime.now(UTC)
    step = timedelta(days=365) / TICKETS
    for serial in range(1, TICKETS + 1):
        created = end - step * (TICKETS - serial)
        number = make_ticket_number(be_year_of(created, BANGKOK_TZ), serial).digits
        phone = f"+66{rng.choice(MOBILE_PREFIXES)}{rng.randrange(10**7):07d}"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        description = _description(rng)
        province = rng.choice(provinces)
        yield (
            number, serial, "phone", rng.choice(categories), description, phone, name, province,
            centers[province], rng.choice(STATUSES), "normal",
            created + timedelta(days=rng.randint(10, 30)), False, created, created,
            search_document(number=number, description=description, caller_phone=phone,
                            citizen_name=name),
        )  # fmt: skip


def _description(rng: random.Random) -> str:
    parts = [*rng.sample(COMPLAINTS, rng.choice((1, 1, 2))), rng.choice(PLACES), rng.choice(ASKS)]
    if rng.random() < 0.1:
        parts.append(
            f"ติดต่อกลับ 08{rng.randrange(10)}-{rng.randrange(1000):03d}-{rng.randrange(10000):04d}"
        )
    return " ".join(p for p in parts if p)


def _progress(
    rows: Iterator[tuple[object, ...]], total: int, label: str
) -> Iterator[tuple[object, ...]]:
    started = time.perf_counter()
    for done, row in enumerate(rows, 1):
        yield row
        if done % 10_000 == 0 or done == total:
            rate = done / (time.perf_counter() - started)
            bar = "#" * (30 * done // total)
            print(f"\r{label} [{bar:<30}] {done:,}/{total:,} ({rate:,.0f}/s)", end="",
                  file=sys.stderr, flush=True)  # fmt: skip
    print(file=sys.stderr)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Measuring --------------------------------------------------------------------------------------


def timed(samples: list[Callable[[], object]]) -> dict[str, float]:
    samples[0]()  # warm up this query shape's plan and pages once
    latencies = []
    for run in samples:
        started = time.perf_counter()
        run()
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 2),
        "n": len(latencies),
    }


def search(db: Database, query: str, **filters: object) -> Callable[[], object]:
    def run() -> object:
        with UnitOfWork(db) as uow:
            page = list_tickets(uow.session, TicketFilter(query=query, **filters),  # type: ignore[arg-type]
                                now=datetime.now(UTC), tz=BANGKOK_TZ)  # fmt: skip
            return page.tickets

    return run


def by_primary_key(db: Database, ticket_id: int) -> Callable[[], object]:
    def run() -> object:
        with UnitOfWork(db) as uow:
            return uow.session.get(Ticket, ticket_id)

    return run


def sample_tickets(db: Database, rng: random.Random) -> list[tuple[int, str, str]]:
    ids = [rng.randint(1, TICKETS) for _ in range(SAMPLES)]
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, number, caller_phone FROM tickets WHERE id = ANY(:ids)"), {"ids": ids}
        ).all()
    return [(row.id, row.number, row.caller_phone) for row in rows]


def phone_as_typed(e164: str, style: int) -> str:
    national = "0" + e164[3:]
    return [f"{national[:3]}-{national[3:6]}-{national[6:]}", e164, national][style % 3]


def signed_in_client(db: Database, instance: Path) -> object:
    username = f"bench{random.randrange(10**9)}"
    create_user(UnitOfWork(db), NewUser(username, "ผู้ทดสอบ", PASSWORD, "agent", "10"),
                Actor.system("bench"))  # fmt: skip
    app = create_app(Settings(instance_dir=instance, database_url=URL, log_level="WARNING"))
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    client.post("/auth/login", data={"username": username, "password": PASSWORD,
                                     "csrf_token": token.group(1)})  # fmt: skip
    return client


def page(client: object, path: str) -> Callable[[], object]:
    def run() -> object:
        response = client.get(path)  # type: ignore[attr-defined]
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
        return response.data

    return run


def next_page_path(client: object, path: str) -> str:
    body = client.get(path).get_data(as_text=True)  # type: ignore[attr-defined]
    match = re.search(r'href="(\?[^"]*after=[^"]+)" rel="next"', body)
    assert match is not None
    return "/console/tickets" + match.group(1).replace("&amp;", "&")


def main() -> None:
    db = ensure_database()
    load_s = load(db)
    rng = random.Random(SEED + 1)
    picked = sample_tickets(db, rng)
    figures: dict[str, object] = {
        "baseline_pk": timed([by_primary_key(db, ticket_id) for ticket_id, _, _ in picked]),
        "search_whole_word": timed([search(db, rng.choice(WHOLE_WORDS)) for _ in range(SAMPLES)]),
        "search_sub_word": timed([search(db, rng.choice(SUB_WORDS)) for _ in range(SAMPLES)]),
        "search_ticket_number": timed(
            [
                search(db, f"{n[:2]}-{n[2:-1]}-{n[-1]}" if i % 2 else n)
                for i, (_, n, _) in enumerate(picked)
            ]
        ),
        "search_phone": timed(
            [search(db, phone_as_typed(p, i)) for i, (_, _, p) in enumerate(picked)]
        ),
        "search_no_match": timed([search(db, MISSING_WORD) for _ in range(SAMPLES)]),
        # About 1 ticket in 1,000: too many to fetch all, too few to find by reading newest first.
        "search_phone_prefix": timed(
            [
                search(db, f"0{rng.choice(MOBILE_PREFIXES)}{rng.randrange(100):02d}")
                for _ in range(SAMPLES)
            ]
        ),
        "search_two_terms": timed(
            [search(db, f"{rng.choice(SUB_WORDS)} {rng.choice(FIRST)}") for _ in range(SAMPLES)]
        ),
        "search_sub_word_in_province": timed(
            [search(db, rng.choice(SUB_WORDS), province_code="50") for _ in range(SAMPLES)]
        ),
    }
    with tempfile.TemporaryDirectory() as instance:
        client = signed_in_client(db, Path(instance))
        filtered = "/console/tickets?status=referred&province=50&sort=due"
        figures["page_list"] = timed([page(client, "/console/tickets")] * SAMPLES)
        figures["page_filtered"] = timed([page(client, filtered)] * SAMPLES)
        figures["page_next"] = timed([page(client, next_page_path(client, filtered))] * SAMPLES)
        figures["page_search"] = timed(
            [page(client, f"/console/tickets?q={rng.choice(SUB_WORDS)}") for _ in range(SAMPLES)]
        )
    worst = max(v["p95_ms"] for k, v in figures.items() if k != "baseline_pk")  # type: ignore[index]
    summary = {"bench": "search", "database": "postgresql", "tickets": TICKETS,
               "load_s": round(load_s, 1), **figures, "worst_p95_ms": worst,
               "target_p95_ms": 100, "cpu_cores": os.cpu_count()}  # fmt: skip
    print(json.dumps(summary, ensure_ascii=False))
    db.dispose()


if __name__ == "__main__":
    main()
