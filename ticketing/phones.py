"""Phone numbers of callers and complainants, stored as E.164 and shown in Thai national format.

Twilio's caller ID is a fact about a call, so ``normalize_phone`` never refuses one: a withheld or
non-phone caller ID simply has no E.164. Numbers typed into forms are checked strictly instead
(``parse_phone_strict``), because a wrong number there means the citizen can never be called back.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat

from ticketing.errors import ValidationError

DEFAULT_REGION = "TH"
VISIBLE_DIGITS_WHEN_MASKED = 4
_FIELD = "phone"
_KEYPAD = {
    **dict.fromkeys("abc", "2"),
    **dict.fromkeys("def", "3"),
    **dict.fromkeys("ghi", "4"),
    **dict.fromkeys("jkl", "5"),
    **dict.fromkeys("mno", "6"),
    **dict.fromkeys("pqrs", "7"),
    **dict.fromkeys("tuv", "8"),
    **dict.fromkeys("wxyz", "9"),
}
_WITHHELD_WORDS = (
    "anonymous",
    "blocked",
    "private",
    "restricted",
    "unavailable",
    "unknown",
    "withheld",
)


def _keypad_spelling(word: str) -> str:
    return "+" + "".join(_KEYPAD[letter] for letter in word)


# Twilio sends a withheld caller ID either as the word or spelled on a keypad:
# "Anonymous" arrives as "+266696687", "Restricted" as "+7378742833".
_WITHHELD_MARKERS = frozenset(
    {*_WITHHELD_WORDS, *(_keypad_spelling(word) for word in _WITHHELD_WORDS)}
)


@dataclass(frozen=True, slots=True)
class CallerNumber:
    """A caller ID as received (``raw``) and, when it is a real phone number, its E.164."""

    e164: str | None
    raw: str

    @property
    def withheld(self) -> bool:
        """True when there is no number to call back: hidden, a browser client, a short code."""
        return self.e164 is None


@lru_cache(maxsize=4096)  # every webhook of a call reads the same caller ID again
def normalize_phone(raw: str | None, region: str = DEFAULT_REGION) -> CallerNumber:
    """Read a caller ID from the telephony provider without ever raising.

    Anything that is not a valid phone number (``anonymous``, ``client:agent-7``, ``1567``, an
    empty string) gives ``e164=None`` and keeps ``raw`` for the record.
    """
    text = (raw or "").strip()
    if text.lower() in _WITHHELD_MARKERS:
        return CallerNumber(e164=None, raw=text)
    number = _parse_or_none(text, region)
    if number is None or not phonenumbers.is_valid_number(number):
        return CallerNumber(e164=None, raw=text)
    return CallerNumber(e164=_e164(number), raw=text)


def parse_phone_strict(raw: str, region: str = DEFAULT_REGION) -> str:
    """The E.164 form of a number typed into a form or sent to the API; refuse invalid ones."""
    text = raw.strip()
    if not text:
        raise ValidationError("enter a phone number", field=_FIELD)
    number = _parse_or_none(text, region)
    if number is None:
        raise ValidationError(f"{text} is not a phone number", field=_FIELD)
    if number.extension:
        raise ValidationError("enter the phone number without an extension", field=_FIELD)
    if not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"{text} is not a valid phone number; check the number of digits "
            "(a Thai mobile number has 10, e.g. 081 234 5678)",
            field=_FIELD,
        )
    return _e164(number)


def format_phone_display(e164: str) -> str:
    """A stored number as people write it: ``081 234 5678`` for Thai numbers.

    Foreign numbers keep their country code (``+1 415-555-2671``) so staff can dial them.
    """
    number = _parse_stored(e164)
    if _is_domestic(number):
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)


@lru_cache(maxsize=4096)  # lists and API pages mask the same callers again and again
def mask_phone(e164: str) -> str:
    """The display form with only the prefix and last 4 digits shown, e.g. ``08x xxx 5678``.

    Lists show many callers at once; the prefix (mobile or landline, country) and the last
    digits are enough to tell calls apart without exposing the number (PDPA).
    """
    number = _parse_stored(e164)
    display = format_phone_display(e164)
    return _mask_digits(display, keep_first=_visible_prefix_length(number))


def _parse_or_none(text: str, region: str) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException:
        return None


def _parse_stored(e164: str) -> PhoneNumber:
    number = _parse_or_none(e164, DEFAULT_REGION) if e164.startswith("+") else None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(f"{e164!r} is not a valid E.164 phone number", field=_FIELD)
    return number


def _e164(number: PhoneNumber) -> str:
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def _is_domestic(number: PhoneNumber) -> bool:
    return phonenumbers.region_code_for_number(number) == DEFAULT_REGION


def _visible_prefix_length(number: PhoneNumber) -> int:
    """Digits left visible at the start: "0" and the next digit at home, the country code abroad."""
    if _is_domestic(number):
        return 2
    return len(str(number.country_code))


def _mask_digits(display: str, *, keep_first: int) -> str:
    digit_count = sum(char.isdigit() for char in display)
    hide_until = digit_count - VISIBLE_DIGITS_WHEN_MASKED
    masked: list[str] = []
    seen = 0
    for char in display:
        if char.isdigit():
            masked.append(char if seen < keep_first or seen >= hide_until else "x")
            seen += 1
        else:
            masked.append(char)
    return "".join(masked)
