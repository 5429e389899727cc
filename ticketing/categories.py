"""The complaint categories the Damrongdhamma Centers commonly receive (seed data).

Sources: the Ministry of Interior's service types (complaints, information, consultation, informal
debt) and the categories seen on provincial centers' forms; see docs/architecture.md.
``sla_days`` is the referral deadline in business days (15 is the centers' common practice of
reporting back to the complainant within 15 days).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CategorySeed:
    code: str
    name_th: str
    name_en: str
    sla_days: int = 15


CATEGORY_SEEDS: tuple[CategorySeed, ...] = (
    CategorySeed("land", "ปัญหาที่ดิน", "Land disputes"),
    CategorySeed("informal_debt", "หนี้นอกระบบ", "Informal debt"),
    CategorySeed(
        "official_misconduct",
        "เจ้าหน้าที่รัฐทุจริตหรือประพฤติมิชอบ",
        "Misconduct or corruption of officials",
    ),
    CategorySeed("drugs", "ยาเสพติด", "Drugs"),
    CategorySeed("gambling", "การพนัน", "Gambling"),
    CategorySeed("nuisance", "เหตุเดือดร้อนรำคาญและมลพิษ", "Nuisance and pollution"),
    CategorySeed("consumer_fraud", "การหลอกลวงผู้บริโภค", "Consumer fraud"),
    CategorySeed("request_help", "ขอความช่วยเหลือ", "Request for help", sla_days=7),
    CategorySeed("request_fairness", "ขอความเป็นธรรม", "Request for fairness"),
    CategorySeed("information", "สอบถามข้อมูลและขอคำปรึกษา", "Information and advice", sla_days=5),
    CategorySeed("other", "เรื่องอื่น ๆ", "Other"),
)
