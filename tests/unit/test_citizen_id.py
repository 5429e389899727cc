"""Thai citizen IDs: validation messages, the mod-11 check digit, formatting and masking."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing.citizen_id import (
    citizen_id_check_digit,
    format_citizen_id,
    generate_citizen_id,
    is_valid_citizen_id,
    mask_citizen_id,
    normalize_citizen_id,
)
from ticketing.errors import ValidationError


def check_digit_by_the_formula(first_twelve: str) -> str:
    """The check digit written out as the DOPA formula, independent of the module under test."""
    total = 0
    for i in range(12):
        total += int(first_twelve[i]) * (13 - i)
    return str((11 - total % 11) % 10)


VALID_IDS = [
    "1101700207030",  # commonly cited example
    "1234567890121",
    "3100600445554",
    "8000000000006",
]


@pytest.mark.parametrize("cid", VALID_IDS)
def test_known_valid_ids_pass(cid: str) -> None:
    assert check_digit_by_the_formula(cid[:12]) == cid[12]
    assert normalize_citizen_id(cid) == cid
    assert is_valid_citizen_id(cid)


@pytest.mark.parametrize(
    "text", ["1-1017-00207-03-0", " 1 1017 00207 03 0 ", "1101-700-207-030", "11017 00207030"]
)
def test_spaces_and_hyphens_are_ignored(text: str) -> None:
    assert normalize_citizen_id(text) == "1101700207030"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "enter the 13-digit citizen ID"),
        (" - ", "enter the 13-digit citizen ID"),
        ("1101700207O30", "only digits"),
        ("1.1017.00207.03.0", "only digits"),
        ("๑๑๐๑๗๐๐๒๐๗๐๓๐", "only digits"),
        ("110170020703", "13 digits; this one has 12"),
        ("11017002070300", "13 digits; this one has 14"),
        ("0101700207030", "cannot start with 0"),
        ("9101700207030", "cannot start with 9"),
        ("1101700207031", "check digit"),
        ("1101700207003", "check digit"),
    ],
)
def test_invalid_ids_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        normalize_citizen_id(text)
    assert caught.value.field == "citizen_id"
    assert not is_valid_citizen_id(text)


def test_format_uses_the_card_grouping() -> None:
    assert format_citizen_id("1234567890121") == "1-2345-67890-12-1"
    assert format_citizen_id("1-2345-67890-12-1") == "1-2345-67890-12-1"


def test_mask_shows_only_the_last_four_digits() -> None:
    assert mask_citizen_id("1101700207030") == "x-xxxx-xxxx7-03-0"
    assert mask_citizen_id("1-1017-00207-03-0") == "x-xxxx-xxxx7-03-0"


def test_masking_leaves_exactly_four_digits() -> None:
    masked = mask_citizen_id("1234567890121")
    assert sum(char.isdigit() for char in masked) == 4
    assert masked.replace("-", "").endswith("0121")


@pytest.mark.parametrize("bad", ["123", "12345678901234", "12345678901a1"])
def test_format_and_mask_refuse_text_that_is_not_13_digits(bad: str) -> None:
    with pytest.raises(ValidationError, match="13 digits"):
        format_citizen_id(bad)
    with pytest.raises(ValidationError, match="13 digits"):
        mask_citizen_id(bad)


@given(st.text(alphabet="0123456789", min_size=12, max_size=12))
def test_check_digit_matches_the_formula(first_twelve: str) -> None:
    assert citizen_id_check_digit(first_twelve) == check_digit_by_the_formula(first_twelve)


@given(st.integers(min_value=0, max_value=2**32))
def test_generated_ids_always_validate(seed: int) -> None:
    cid = generate_citizen_id(random.Random(seed))
    assert len(cid) == 13
    assert cid[0] in "12345678"
    assert normalize_citizen_id(cid) == cid


def test_generation_is_reproducible_from_the_seed() -> None:
    assert generate_citizen_id(random.Random(7)) == generate_citizen_id(random.Random(7))


def single_digit_changes(cid: str, position: int) -> list[str]:
    return [cid[:position] + d + cid[position + 1 :] for d in "0123456789" if d != cid[position]]


def weighted_sum_mod_11(cid: str) -> int:
    return sum(int(cid[i]) * (13 - i) for i in range(12)) % 11


SAMPLE_IDS = [generate_citizen_id(random.Random(seed)) for seed in range(3_000)]


def test_a_change_to_the_third_digit_is_never_caught() -> None:
    # Its weight is 11, which is 0 mod 11: the national check digit cannot see this digit.
    for cid in SAMPLE_IDS:
        assert all(is_valid_citizen_id(changed) for changed in single_digit_changes(cid, 2))


def test_every_other_single_digit_change_is_caught_when_the_check_digit_is_not_1() -> None:
    sample = [cid for cid in SAMPLE_IDS if cid[12] != "1"]
    assert len(sample) > 2_000
    for cid in sample:
        for position in (0, 1, *range(3, 12)):
            for changed in single_digit_changes(cid, position):
                assert not is_valid_citizen_id(changed), f"{cid} -> {changed} not caught"


def test_other_missed_changes_only_move_the_sum_between_residues_0_and_10() -> None:
    # (11 - 0) mod 10 == (11 - 10) mod 10 == 1: the one collision of the formula.
    for cid in SAMPLE_IDS:
        for position in (0, 1, *range(3, 12)):
            for changed in single_digit_changes(cid, position):
                if is_valid_citizen_id(changed):
                    residues = {weighted_sum_mod_11(cid), weighted_sum_mod_11(changed)}
                    assert residues == {0, 10}
                    assert cid[12] == "1"
