"""Phone numbers: caller IDs that may be withheld, strict form input, display and masking."""

from __future__ import annotations

import pytest

from ticketing.errors import ValidationError
from ticketing.phones import (
    CallerNumber,
    format_phone_display,
    mask_phone,
    normalize_phone,
    parse_phone_strict,
)

# --- caller IDs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+66812345678", "+66812345678"),
        ("081-234-5678", "+66812345678"),
        ("0812345678", "+66812345678"),
        ("+66 81 234 5678", "+66812345678"),
        (" 0812345678 ", "+66812345678"),
        ("02 123 4567", "+6621234567"),
        ("021234567", "+6621234567"),
        ("053 123 456", "+6653123456"),
        ("+14155552671", "+14155552671"),
    ],
)
def test_normalize_phone_gives_e164(raw: str, e164: str) -> None:
    caller = normalize_phone(raw)
    assert caller == CallerNumber(e164=e164, raw=raw.strip())
    assert not caller.withheld


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "ANONYMOUS",
        "unknown",
        "restricted",
        "private",
        "+266696687",  # "ANONYMOUS" spelled on a keypad, as Twilio sends it
        "+7378742833",  # "RESTRICTED"
        "client:agent-7",
        "sip:agent@example.sip.twilio.com",
        "1567",  # the hotline's own short code is not a caller's number
        "191",
        "066123456",  # a mobile number one digit short
    ],
)
def test_normalize_phone_withholds_without_raising(raw: str | None) -> None:
    caller = normalize_phone(raw)
    assert caller.e164 is None
    assert caller.withheld
    assert caller.raw == (raw or "").strip()


def test_normalize_phone_keeps_the_raw_text_of_a_short_code() -> None:
    assert normalize_phone("1567") == CallerNumber(e164=None, raw="1567")


def test_normalize_phone_uses_the_region_for_national_numbers() -> None:
    assert normalize_phone("(415) 555-2671", region="US").e164 == "+14155552671"


# --- strict parsing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("081-234-5678", "+66812345678"),
        ("0812345678", "+66812345678"),
        ("+66812345678", "+66812345678"),
        ("02 123 4567", "+6621234567"),
        ("+1 415 555 2671", "+14155552671"),
    ],
)
def test_parse_phone_strict_gives_e164(raw: str, e164: str) -> None:
    assert parse_phone_strict(raw) == e164


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "enter a phone number"),
        ("  ", "enter a phone number"),
        ("anonymous", "is not a phone number"),
        ("client:agent-7", "is not a phone number"),
        ("066123456", "is not a valid phone number"),
        ("08123456789", "is not a valid phone number"),
        ("1567", "is not a valid phone number"),
        ("+266696687", "is not a valid phone number"),
        ("0812345678 ext 5", "without an extension"),
    ],
)
def test_parse_phone_strict_refuses_invalid_numbers(raw: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_phone_strict(raw)
    assert caught.value.field == "phone"


# --- display and masking ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("e164", "display"),
    [
        ("+66812345678", "081 234 5678"),
        ("+6621234567", "02 123 4567"),
        ("+6653123456", "053 123 456"),
        ("+14155552671", "+1 415-555-2671"),
    ],
)
def test_format_phone_display(e164: str, display: str) -> None:
    assert format_phone_display(e164) == display


@pytest.mark.parametrize(
    ("e164", "masked"),
    [
        ("+66812345678", "08x xxx 5678"),
        ("+6621234567", "02 xxx 4567"),
        ("+6653123456", "05x xx3 456"),
        ("+14155552671", "+1 xxx-xxx-2671"),
    ],
)
def test_mask_phone_shows_only_the_prefix_and_last_four_digits(e164: str, masked: str) -> None:
    assert mask_phone(e164) == masked


@pytest.mark.parametrize("bad", ["0812345678", "+661567", "anonymous", ""])
def test_display_and_mask_refuse_text_that_is_not_a_valid_e164(bad: str) -> None:
    with pytest.raises(ValidationError, match=r"E\.164"):
        format_phone_display(bad)
    with pytest.raises(ValidationError, match=r"E\.164"):
        mask_phone(bad)
