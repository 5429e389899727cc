"""Reference data every installation needs: categories and the Damrongdhamma Centers.

Idempotent: run after every migration (``hotline db upgrade``); existing rows are updated in
place by code, so names can be corrected in a release without touching tickets.
"""

from __future__ import annotations

from dataclasses import dataclass

import geothai
from sqlalchemy import select

from ticketing.categories import CATEGORY_SEEDS
from ticketing.db.uow import UnitOfWork
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


@dataclass(frozen=True, slots=True)
class _CenterSeed:
    code: str
    kind: CenterKind
    name_th: str
    name_en: str
    province_code: str | None = None
    district_code: str | None = None


def center_seeds() -> list[_CenterSeed]:
    """The central center, one per province (at the provincial hall), one per district office."""
    seeds = [
        _CenterSeed(CENTRAL_CODE, CenterKind.CENTRAL, "ศูนย์ดำรงธรรมกระทรวงมหาดไทย",
                    "Ministry of Interior Damrongdhamma Center"),
    ]  # fmt: skip
    for province in geothai.provinces():
        bangkok = province.code == "10"
        name_th = "ศูนย์ดำรงธรรมกรุงเทพมหานคร" if bangkok else f"ศูนย์ดำรงธรรมจังหวัด{province.name_th}"
        seeds.append(_CenterSeed(province.code, CenterKind.PROVINCE, name_th,
                                 f"{province.name_en} Provincial Damrongdhamma Center",
                                 province.code))  # fmt: skip
        for district in geothai.districts(province.code):
            label = (
                district.name_th
                if district.name_th.startswith("เขต")
                else f"อำเภอ{district.name_th}"
            )
            seeds.append(_CenterSeed(district.code, CenterKind.DISTRICT, f"ศูนย์ดำรงธรรม{label}",
                                     f"{district.name_en} District Damrongdhamma Center",
                                     province.code, district.code))  # fmt: skip
    return seeds


def _ensure_centers(uow: UnitOfWork) -> None:
    existing = {c.code: c for c in uow.session.scalars(select(Center))}
    for seed in center_seeds():
        center = existing.get(seed.code) or Center(code=seed.code, kind=seed.kind.value)
        center.name_th = seed.name_th
        center.name_en = seed.name_en
        center.province_code = seed.province_code
        center.district_code = seed.district_code
        uow.session.add(center)
