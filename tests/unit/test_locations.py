"""Location codes: validation against geothai, Thai and English labels, postal-code lookups."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ticketing.errors import ValidationError
from ticketing.locations import (
    DistrictCandidate,
    Location,
    district_choices,
    districts_for_postal_code,
    province_choices,
    subdistrict_choices,
    validate_location,
)

# --- validation ---------------------------------------------------------------------------------


def test_a_full_location_validates() -> None:
    location = validate_location("50", "5001", "500101", "50200")
    assert location == Location("50", "5001", "500101", "50200")
    assert location.province_name_th == "เชียงใหม่"
    assert location.district_name_th == "เมืองเชียงใหม่"


def test_a_province_alone_validates() -> None:
    location = validate_location("50")
    assert location == Location(province_code="50")
    assert location.district_name_th is None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("50", "", "", ""), Location("50")),
        (("50", " 5001 ", None, " "), Location("50", "5001")),
        ((" 10 ", "1001", "100101", "10200"), Location("10", "1001", "100101", "10200")),
    ],
)
def test_blank_codes_count_as_not_given_and_spaces_are_trimmed(
    args: tuple[str, str | None, str | None, str | None], expected: Location
) -> None:
    assert validate_location(*args) == expected


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        (("99",), "province_code", "no province with code 99"),
        (("00",), "province_code", "no province with code 00"),
        (("5",), "province_code", "2 digits"),
        (("",), "province_code", "2 digits"),
        (("เชียงใหม่",), "province_code", "2 digits"),
        (("50", "5099"), "district_code", "no district with code 5099"),
        (("50", "501"), "district_code", "4 digits"),
        (("50", "1001"), "district_code", r"district 1001 \(Phra Nakhon\) is not in province 50"),
        (("10", "5001"), "district_code", "is not in province 10 \\(Bangkok\\)"),
        (("50", "5001", "500199"), "subdistrict_code", "no subdistrict with code 500199"),
        (("50", "5001", "5001011"), "subdistrict_code", "6 digits"),
        (("50", "5001", "500203"), "subdistrict_code", r"500203 \(Ban Luang\) is not in district"),
        (("50", "5001", "100101"), "subdistrict_code", "is not in district 5001"),
        (("50", None, "500101"), "district_code", "choose the district before the subdistrict"),
        (("50", "5001", "500101", "5020"), "postal_code", "5 digits"),
        (("50", "5001", "500101", "50 200"), "postal_code", "5 digits"),
        (("50", "5001", "500101", "5020O"), "postal_code", "5 digits"),
        (("50", "5001", "500101", "50100"), "postal_code", "50100 is not used in Si Phum"),
        (("50", "5001", None, "50180"), "postal_code", "not used in Mueang Chiang Mai"),
        (("50", "5001", None, "99999"), "postal_code", "not used in Mueang Chiang Mai"),
        (("50", None, None, "10200"), "postal_code", "not used in Chiang Mai"),
    ],
)
def test_invalid_locations_name_the_field_and_the_problem(
    args: tuple[str, ...], field: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        validate_location(*args)
    assert caught.value.field == field


def test_postal_code_with_only_a_district_may_be_any_of_its_subdistricts() -> None:
    for postal_code in ("50000", "50100", "50200", "50300"):
        assert validate_location("50", "5001", None, postal_code).postal_code == postal_code


def test_a_subdistrict_with_two_postal_codes_accepts_both() -> None:
    for postal_code in ("10300", "10303"):
        assert validate_location("10", "1002", "100203", postal_code).postal_code == postal_code


# --- labels -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "label_th", "label_en"),
    [
        (Location("50"), "จังหวัดเชียงใหม่", "Chiang Mai Province"),
        (
            Location("50", "5001"),
            "อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่",
            "Mueang Chiang Mai District, Chiang Mai Province",
        ),
        (
            Location("50", "5001", "500101", "50200"),
            "ตำบลศรีภูมิ อำเภอเมืองเชียงใหม่ จังหวัดเชียงใหม่ 50200",
            "Si Phum Subdistrict, Mueang Chiang Mai District, Chiang Mai Province 50200",
        ),
        (Location("10"), "กรุงเทพมหานคร", "Bangkok"),
        (Location("10", "1001"), "เขตพระนคร กรุงเทพมหานคร", "Phra Nakhon District, Bangkok"),
        (
            Location("10", "1001", "100101", "10200"),
            "แขวงพระบรมมหาราชวัง เขตพระนคร กรุงเทพมหานคร 10200",
            "Phra Borom Maha Ratchawang Subdistrict, Phra Nakhon District, Bangkok 10200",
        ),
        (
            # Ayutthaya's capital district is not called "Mueang".
            Location("14", "1401"),
            "อำเภอพระนครศรีอยุธยา จังหวัดพระนครศรีอยุธยา",
            "Phra Nakhon Si Ayutthaya District, Phra Nakhon Si Ayutthaya Province",
        ),
        (
            # A Bangkok district whose name contains "เมือง" is still a เขต.
            Location("10", "1036"),
            "เขตดอนเมือง กรุงเทพมหานคร",
            "Don Mueang District, Bangkok",
        ),
    ],
)
def test_labels_read_naturally(location: Location, label_th: str, label_en: str) -> None:
    assert location.label_th == label_th
    assert location.label_en == label_en


def test_bangkok_district_name_keeps_geothais_khet_prefix() -> None:
    assert Location("10", "1001").district_name_th == "เขตพระนคร"
    assert "เขตเขต" not in Location("10", "1001").label_th


def test_no_label_doubles_or_omits_a_level_word() -> None:
    for province_code, _, _ in province_choices():
        for district_code, _, _ in district_choices(province_code):
            label = Location(province_code, district_code).label_th
            words = label.split(" ")
            if province_code == "10":
                assert words[0].startswith("เขต")
                assert not words[0].startswith("เขตเขต")
                assert words[-1] == "กรุงเทพมหานคร"
            else:
                assert words[0].startswith("อำเภอ")
                assert not words[0].startswith("อำเภออำเภอ")
                assert words[-1].startswith("จังหวัด")


# --- postal codes -------------------------------------------------------------------------------


def test_50200_is_mueang_chiang_mai() -> None:
    assert districts_for_postal_code("50200") == [
        DistrictCandidate(
            province_code="50",
            district_code="5001",
            province_name_th="เชียงใหม่",
            district_name_th="เมืองเชียงใหม่",
            province_name_en="Chiang Mai",
            district_name_en="Mueang Chiang Mai",
        )
    ]


def test_a_postal_code_shared_by_several_districts_lists_each_once_by_code() -> None:
    candidates = districts_for_postal_code("45000")
    assert [c.district_code for c in candidates] == ["4501", "4516", "4517", "4518"]
    assert {c.province_name_en for c in candidates} == {"Roi Et"}


def test_a_postal_code_can_span_provinces() -> None:
    candidates = districts_for_postal_code(" 13180 ")
    assert [(c.province_code, c.district_code) for c in candidates] == [
        ("13", "1302"),
        ("14", "1406"),
        ("14", "1411"),
    ]


def test_an_unknown_well_formed_postal_code_has_no_districts() -> None:
    assert districts_for_postal_code("99999") == []


@pytest.mark.parametrize("bad", ["", "5020", "502000", "50-200", "5020O", "๕๐๒๐๐"])
def test_a_malformed_postal_code_is_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="5 digits") as caught:
        districts_for_postal_code(bad)
    assert caught.value.field == "postal_code"


# --- pickers ------------------------------------------------------------------------------------


def test_province_choices() -> None:
    choices = province_choices()
    assert len(choices) == 77
    assert choices[0] == ("10", "กรุงเทพมหานคร", "Bangkok")
    assert [code for code, _, _ in choices] == sorted(code for code, _, _ in choices)


def test_district_choices() -> None:
    choices = district_choices("84")
    assert len(choices) == 19
    assert choices[0] == ("8401", "เมืองสุราษฎร์ธานี", "Mueang Surat Thani")
    assert all(code.startswith("84") for code, _, _ in choices)


def test_subdistrict_choices() -> None:
    assert subdistrict_choices("8405") == [
        ("840501", "เกาะพะงัน", "Ko Pha-ngan"),
        ("840502", "บ้านใต้", "Ban Tai"),
        ("840503", "เกาะเต่า", "Ko Tao"),
    ]


@pytest.mark.parametrize(
    ("choices", "code", "field"),
    [
        (district_choices, "99", "province_code"),
        (district_choices, "5", "province_code"),
        (subdistrict_choices, "5099", "district_code"),
        (subdistrict_choices, "50", "district_code"),
    ],
)
def test_choices_refuse_unknown_codes(
    choices: Callable[[str], list[tuple[str, str, str]]], code: str, field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        choices(code)
    assert caught.value.field == field
