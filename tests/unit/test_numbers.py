"""Ticket numbers: format, parsing, and the Damm check digit's error detection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing.errors import ValidationError
from ticketing.numbers import (
    TicketNumber,
    be_year_of,
    damm_check_digit,
    damm_is_valid,
    make_ticket_number,
    parse_ticket_number,
)

BANGKOK = ZoneInfo("Asia/Bangkok")


def single_digit_substitutions(number: str) -> list[str]:
    return [
        number[:i] + other + number[i + 1 :]
        for i, digit in enumerate(number)
        for other in "0123456789"
        if other != digit
    ]


def adjacent_transpositions(number: str) -> list[str]:
    return [
        number[:i] + number[i + 1] + number[i] + number[i + 2 :]
        for i in range(len(number) - 1)
        if number[i] != number[i + 1]
    ]


def assert_every_typing_mistake_is_caught(number: str) -> None:
    assert damm_is_valid(number)
    for wrong in single_digit_substitutions(number):
        assert not damm_is_valid(wrong), f"{number} -> {wrong} not caught"
    for wrong in adjacent_transpositions(number):
        assert not damm_is_valid(wrong), f"{number} -> {wrong} not caught"


# --- Damm ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "check"),
    [("0", "0"), ("1", "3"), ("12345", "9"), ("690001234", "6")],
)
def test_damm_check_digit_matches_known_values(digits: str, check: str) -> None:
    assert damm_check_digit(digits) == check
    assert damm_is_valid(digits + check)


def test_damm_wikipedia_example() -> None:
    # Wikipedia works through 572 -> 5724.
    assert damm_check_digit("572") == "4"
    assert damm_is_valid("5724")
    assert not damm_is_valid("5727")


@pytest.mark.parametrize("text", ["", "12a4", "١٢٣", "12 34", "-1"])
def test_damm_is_valid_is_false_for_non_digits(text: str) -> None:
    assert not damm_is_valid(text)


@pytest.mark.parametrize("text", ["", "12a4", "๑๒๓"])
def test_damm_check_digit_refuses_non_digits(text: str) -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        damm_check_digit(text)


def test_every_single_substitution_and_adjacent_swap_is_caught_for_20000_serials() -> None:
    for serial in range(1, 20_001):
        assert_every_typing_mistake_is_caught(make_ticket_number(2569, serial).digits)


@given(
    be_year=st.integers(min_value=2500, max_value=2999),
    serial=st.integers(min_value=1, max_value=10**12),
)
def test_every_single_substitution_and_adjacent_swap_is_caught_for_random_numbers(
    be_year: int, serial: int
) -> None:
    assert_every_typing_mistake_is_caught(make_ticket_number(be_year, serial).digits)


@given(st.text(alphabet="0123456789", min_size=1, max_size=30))
def test_appending_the_check_digit_always_validates(digits: str) -> None:
    assert damm_is_valid(digits + damm_check_digit(digits))


# --- TicketNumber -------------------------------------------------------------------------------


def test_ticket_number_format() -> None:
    number = make_ticket_number(2569, 1234)
    assert number == TicketNumber(be_year=2569, serial=1234)
    assert number.digits == "6900012346"
    assert str(number) == number.digits
    assert number.display == "69-0001234-6"
    assert number.spoken_digits == ("6", "9", "0", "0", "0", "1", "2", "3", "4", "6")


@pytest.mark.parametrize(
    ("be_year", "serial", "digits"),
    [
        (2569, 1, "69" + "0000001" + damm_check_digit("690000001")),
        (2500, 1, "00" + "0000001" + damm_check_digit("000000001")),
        (2599, 9_999_999, "99" + "9999999" + damm_check_digit("999999999")),
        (2570, 10_000_000, "70" + "10000000" + damm_check_digit("7010000000")),
    ],
)
def test_ticket_number_digits(be_year: int, serial: int, digits: str) -> None:
    number = make_ticket_number(be_year, serial)
    assert number.digits == digits
    assert len(number.digits) == len(digits)


def test_serial_above_seven_digits_just_gets_longer() -> None:
    number = make_ticket_number(2569, 12_345_678)
    assert len(number.digits) == 11
    assert number.display == f"69-12345678-{number.digits[-1]}"
    assert parse_ticket_number(number.digits) == number


@pytest.mark.parametrize("be_year", [2499, 3000, 69, 2026, -2569])
def test_make_refuses_a_year_that_is_not_a_4_digit_be_year(be_year: int) -> None:
    with pytest.raises(ValidationError, match="Buddhist-era year") as caught:
        make_ticket_number(be_year, 1)
    assert caught.value.field == "be_year"


@pytest.mark.parametrize("serial", [0, -1])
def test_make_refuses_a_serial_below_one(serial: int) -> None:
    with pytest.raises(ValidationError, match="1 or more") as caught:
        make_ticket_number(2569, serial)
    assert caught.value.field == "serial"


# --- parsing ------------------------------------------------------------------------------------


@given(
    be_year=st.integers(min_value=2500, max_value=2599),
    serial=st.integers(min_value=1, max_value=10**10),
)
def test_make_then_parse_round_trips(be_year: int, serial: int) -> None:
    number = make_ticket_number(be_year, serial)
    assert parse_ticket_number(number.digits) == number
    assert parse_ticket_number(number.display) == number


@pytest.mark.parametrize(
    "text", ["6900012346", "69-0001234-6", " 69 0001234 6 ", "690-001-2346", "69 - 0001234 - 6"]
)
def test_parse_accepts_spaces_and_hyphens(text: str) -> None:
    assert parse_ticket_number(text) == TicketNumber(be_year=2569, serial=1234)


def test_parse_uses_the_given_century() -> None:
    assert parse_ticket_number("6900012346", century_be=2600).be_year == 2669


@pytest.mark.parametrize("century_be", [2550, 2400, 3000, 69])
def test_parse_refuses_a_century_that_is_not_one(century_be: int) -> None:
    with pytest.raises(ValueError, match="century_be"):
        parse_ticket_number("6900012346", century_be=century_be)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "enter the ticket number"),
        ("  - ", "enter the ticket number"),
        ("69/0001234/1", "only digits"),
        ("69.0001234.1", "only digits"),
        ("69O0012341", "only digits"),
        ("๖๙๐๐๐๑๒๓๔๑", "only digits"),
        ("+6900012341", "only digits"),
        ("690001234", "at least 10 digits; this one has 9"),
        ("1", "at least 10 digits; this one has 1"),
    ],
)
def test_parse_refuses_malformed_text(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_ticket_number(text)
    assert caught.value.field == "number"


@pytest.mark.parametrize(
    "text", ["6900012341", "9600012346", "69-0001243-6", "6900021346", "6900012364"]
)
def test_parse_refuses_a_wrong_check_digit_as_probably_mistyped(text: str) -> None:
    with pytest.raises(ValidationError, match="probably mistyped") as caught:
        parse_ticket_number(text)
    assert caught.value.field == "number"


def test_parse_refuses_serial_zero() -> None:
    with pytest.raises(ValidationError, match="not a valid ticket number"):
        parse_ticket_number("0000000000")


def test_parse_refuses_a_non_canonical_long_serial_with_a_leading_zero() -> None:
    body = "69" + "00001234"  # 8-digit serial: only serials above 9,999,999 have 8 digits
    with pytest.raises(ValidationError, match="not a valid ticket number"):
        parse_ticket_number(body + damm_check_digit(body))


# --- Buddhist-era year --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instant", "be_year"),
    [
        (datetime(2026, 6, 1, tzinfo=UTC), 2569),
        # 17:00 UTC on New Year's Eve is already midnight in Bangkok.
        (datetime(2025, 12, 31, 16, 59, 59, tzinfo=UTC), 2568),
        (datetime(2025, 12, 31, 17, 0, 0, tzinfo=UTC), 2569),
        (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=9))), 2568),
        (datetime(2026, 1, 1, 0, 30, tzinfo=BANGKOK), 2569),
    ],
)
def test_be_year_of_uses_the_given_time_zone(instant: datetime, be_year: int) -> None:
    assert be_year_of(instant, BANGKOK) == be_year


def test_be_year_of_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        be_year_of(datetime(2026, 1, 1), BANGKOK)  # noqa: DTZ001
