"""Plain factories for test data: valid by default, any field overridable."""

from __future__ import annotations

import itertools
from typing import Any

from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.filing import TicketDraft
from ticketing.models import Agency, Category, Ticket
from ticketing.permissions import Actor
from ticketing.services import open_ticket
from ticketing.users import NewUser, create_user

_counter = itertools.count(1)
SYSTEM = Actor.system("test")
VALID_CITIZEN_ID = "1101700207030"


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}"


def make_draft(**overrides: Any) -> TicketDraft:
    values: dict[str, Any] = {
        "channel": "walk_in",
        "category_code": "land",
        "description": "ข้างบ้านรุกล้ำที่ดิน ทำรั้วทับแนวเขต",
        "caller_phone": "0812345678",
        "citizen_id": VALID_CITIZEN_ID,
        "citizen_name": "สมชาย ใจดี",
        "province_code": "50",
        "district_code": "5001",
        "postal_code": "50200",
    }
    values.update(overrides)
    return TicketDraft(**values)


def make_ticket(db: Database, actor: Actor = SYSTEM, **overrides: Any) -> Ticket:
    return open_ticket(UnitOfWork(db), make_draft(**overrides), actor)


def make_user(db: Database, role: str = "agent", **overrides: Any) -> Actor:
    values: dict[str, Any] = {
        "username": unique(role),
        "display_name": f"ทดสอบ {role}",
        "password": "correct horse battery",
        "role": role,
        "center_code": None if role == "agency" else "50",
        "agency_code": None,
    }
    values.update(overrides)
    user = create_user(UnitOfWork(db), NewUser(**values), SYSTEM)
    return Actor.for_user(user)


def make_agency(db: Database, **overrides: Any) -> Agency:
    values: dict[str, Any] = {
        "code": unique("agency"),
        "name_th": "สำนักงานที่ดินจังหวัดเชียงใหม่",
        "name_en": "Chiang Mai Provincial Land Office",
        "scope": "provincial",
        "province_code": "50",
    }
    values.update(overrides)
    with UnitOfWork(db) as uow:
        agency = Agency(**values)
        uow.session.add(agency)
        uow.commit()
    return agency


def category_id(db: Database, code: str) -> int:
    from sqlalchemy import select

    with UnitOfWork(db) as uow:
        return uow.session.scalars(select(Category.id).where(Category.code == code)).one()
