"""Reference data every installation needs: categories and the Damrongdhamma Centers.

Idempotent: run after every migration (``hotline db upgrade``); existing rows are updated in
place by code, so names can be corrected in a release without touching tickets.
"""

from __future__ import annotations

import geothai
from sqlalchemy import select

from ticketing.categories import CATEGORY_SEEDS
from ticketing.db import UnitOfWork
from ticketing.models import Category, Center, CenterKind

CENTRAL_CODE = "central"


def ensure_reference_data(uow: UnitOfWork) -> None:
    with uow:
        _ensure_categories(uow)
        _ensure_centers(uow)
        uow.commit()


def _ensure_categories(uow: UnitOfWork) -> None:
    existing = {c.code: c for c in uow.session.scalars(select(Category))}
    for order, seed in enumerate(CATEGORY_SEEDS):
        category = existing.get(seed.code) or Category(code=seed.code, sla_days=seed.sla_days)
        category.name_th = seed.name_th
        category.name_en = seed.name_en
        category.sort_order = order
        uow.session.add(category)


def _ensure_centers(uow: UnitOfWork) -> None:
    existing = {c.code: c for c in uow.session.scalars(select(Center))}
    wanted: list[tuple[str, CenterKind, str, str, str | None]] = [
        (
            CENTRAL_CODE,
            CenterKind.CENTRAL,
            "ศูนย์ดำรงธรรมกระทรวงมหาดไทย",
            "Ministry of Interior Damrongdhamma Center",
            None,
        ),
    ]
    for province in geothai.provinces():
        name_th = (
            "ศูนย์ดำรงธรรมกรุงเทพมหานคร"
            if province.code == "10"
            else f"ศูนย์ดำรงธรรมจังหวัด{province.name_th}"
        )
        wanted.append(
            (
                province.code,
                CenterKind.PROVINCE,
                name_th,
                f"{province.name_en} Provincial Damrongdhamma Center",
                province.code,
            )
        )
    for code, kind, name_th, name_en, province_code in wanted:
        center = existing.get(code) or Center(code=code, kind=kind.value)
        center.name_th = name_th
        center.name_en = name_en
        center.province_code = province_code
        uow.session.add(center)
