"""Practice scenarios: loaded and validated from YAML, and a practice ticket scored against one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ticketing.training import (
    ScenarioError,
    TraineeTicket,
    load_scenario,
    load_scenarios,
    normalise_thai,
    score_ticket,
)

LAND = load_scenarios(None)["land-encroachment"]
PERFECT = TraineeTicket(
    category="land",
    province_code="50",
    district_code="5014",
    citizen_id="3-9141-77763-17-5",
    description="เพื่อนบ้าน ล้อมรั้ว รุกล้ำที่นาประมาณ 2 เมตร ผู้ร้องมีโฉนด ขอให้อำเภอมารังวัด",
    seconds=240,
)


def test_a_correct_ticket_on_time_scores_full_marks() -> None:
    score = score_ticket(LAND, PERFECT)
    assert score.points == score.max_points == 100
    assert score.percent == 100
    assert [item.part for item in score.items] == [
        "category", "province", "district", "citizen_id", "fact", "fact", "fact", "time",
    ]  # fmt: skip


def test_a_wrong_category_loses_its_points_only() -> None:
    score = score_ticket(LAND, replace(PERFECT, category="nuisance"))
    category = score.items[0]
    assert (category.points, category.expected, category.got) == (0, "land", "nuisance")
    assert score.points == 75 and score.percent == 75


def test_a_missing_fact_lowers_the_score() -> None:
    description = "เพื่อนบ้านล้อมรั้วรุกล้ำที่นา ผู้ร้องมีโฉนด"  # nothing about a survey
    score = score_ticket(LAND, replace(PERFECT, description=description))
    missed = [item for item in score.items if item.part == "fact" and item.points == 0]
    assert [item.expected for item in missed] == ["ขอให้รังวัดที่ดิน"]
    assert score.percent == round(100 - 35 / 3)


def test_both_mistakes_add_up_and_lateness_costs_time_points() -> None:
    wrong = replace(PERFECT, category="other", description="ที่ดิน มีโฉนด", seconds=450)
    score = score_ticket(LAND, wrong)
    time_item = score.items[-1]
    assert time_item.points == 5.0  # 150 s over a 300 s target: half the time points
    assert score.points == pytest.approx(100 - 25 - 2 * 35 / 3 - 5, abs=0.05)
    assert score_ticket(LAND, replace(PERFECT, seconds=900)).items[-1].points == 0


def test_facts_match_synonyms_thai_digits_and_any_spacing() -> None:
    debt = load_scenarios(None)["informal-debt"]
    words = "กู้นอกระบบ ๕๐,๐๐๐ บาท ดอกเบี้ย ร้อยละ ๒๐ ต่อเดือน ถูก ขู่ จะทำ ร้าย"
    filed = TraineeTicket("informal_debt", "40", "4001", None, words, 100)
    facts = [item for item in score_ticket(debt, filed).items if item.part == "fact"]
    assert all(item.points > 0 for item in facts), facts
    assert normalise_thai("เเปลง  ๑๒๓ ABC") == "แปลง123abc"  # two sara e → one sara ae


def test_a_citizen_id_is_compared_as_digits_and_a_wrong_one_scores_nothing() -> None:
    wrong = score_ticket(LAND, replace(PERFECT, citizen_id="1101700203451")).items[3]
    assert wrong.part == "citizen_id" and wrong.points == 0
    assert score_ticket(LAND, replace(PERFECT, citizen_id=None)).items[3].points == 0


SCENARIO = """
title: ทดสอบ
caller: {name: ผู้โทร, profile: ทดสอบ}
story: [สวัสดีค่ะ]
expected:
  category: land
  province: "50"
  facts:
    - {fact: รั้ว, keywords: [รั้ว]}
target_seconds: 60
"""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (("category: land", "category: lands"), "expected.category"),
        (('province: "50"', 'province: "99"'), "expected.province/district"),
        (("story: [สวัสดีค่ะ]", "story: []"), "story"),
        (("keywords: [รั้ว]", "keywords: [12]"), "expected.facts[0].keywords"),
        (("target_seconds: 60", "target_seconds: soon"), "target_seconds"),
        (("caller: {name: ผู้โทร, profile: ทดสอบ}", "caller: {name: ผู้โทร}"), "caller.profile"),
        (
            ('province: "50"', 'province: "50"\n  citizen_id: "1234567890123"'),
            "expected.citizen_id",
        ),
    ],
)
def test_a_wrong_scenario_is_refused_naming_file_and_field(
    tmp_path: Path, change: tuple[str, str], field: str
) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(SCENARIO, encoding="utf-8")
    assert load_scenario(good).expected.category == "land"
    bad = tmp_path / "bad-one.yaml"
    bad.write_text(SCENARIO.replace(*change), encoding="utf-8")
    with pytest.raises(ScenarioError) as error:
        load_scenarios(tmp_path)
    assert error.value.field == field
    assert str(error.value).startswith(f"bad-one.yaml: {field}: ")


def test_broken_yaml_and_odd_file_names_are_refused(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("title: [unclosed", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"broken\.yaml: YAML"):
        load_scenarios(tmp_path)
    odd = tmp_path / "Bad Name.yaml"
    odd.write_text(SCENARIO, encoding="utf-8")
    with pytest.raises(ScenarioError, match="file name"):
        load_scenario(odd)
    with pytest.raises(ScenarioError, match="not a directory"):
        load_scenarios(tmp_path / "missing")
