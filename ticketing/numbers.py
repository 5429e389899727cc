"""Ticket numbers: digits only, because callers key them on a phone keypad and hear them read back.

A number is the 2-digit Buddhist-era year, the serial zero-padded to at least 7 digits, and one
Damm check digit, e.g. ``69-0001234-6``. The check digit catches every single mistyped digit and
every swap of two adjacent digits, so a mistyped number is refused before any database lookup
instead of silently opening someone else's complaint.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ticketing.errors import ValidationError

BUDDHIST_ERA_OFFSET = 543
MIN_BE_YEAR = 2500
MAX_BE_YEAR = 2999
SERIAL_WIDTH = 7
MIN_NUMBER_LENGTH = 2 + SERIAL_WIDTH + 1

# The Damm quasigroup of order 10 (weakly totally anti-symmetric, zero diagonal) from Wikipedia.
_DAMM_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 3, 1, 7, 5, 9, 8, 6, 4, 2),
    (7, 0, 9, 2, 1, 5, 4, 8, 6, 3),
    (4, 2, 0, 6, 8, 7, 1, 3, 5, 9),
    (1, 7, 5, 0, 9, 8, 3, 4, 2, 6),
    (6, 1, 2, 3, 0, 4, 5, 9, 7, 8),
    (3, 6, 7, 4, 2, 0, 9, 5, 8, 1),
    (5, 8, 6, 9, 7, 2, 0, 1, 3, 4),
    (8, 9, 4, 5, 3, 6, 2, 0, 1, 7),
    (9, 4, 3, 8, 6, 1, 7, 2, 0, 5),
    (2, 5, 8, 1, 4, 3, 6, 7, 9, 0),
)
_ASCII_DIGITS = re.compile(r"[0-9]+")
_SEPARATORS = re.compile(r"[ \-]")


def _damm_interim(digits: str) -> int:
    if not _ASCII_DIGITS.fullmatch(digits):
        raise ValueError(f"Damm check digits need ASCII digits only, got {digits!r}")
    interim = 0
    for digit in digits:
        interim = _DAMM_TABLE[interim][int(digit)]
    return interim


def damm_check_digit(digits: str) -> str:
    """The digit to append so that the whole string passes ``damm_is_valid``."""
    return str(_damm_interim(digits))


def damm_is_valid(digits: str) -> bool:
    """Whether ``digits`` ends with its correct Damm check digit; False for non-digits."""
    if not _ASCII_DIGITS.fullmatch(digits):
        return False
    return _damm_interim(digits) == 0


@dataclass(frozen=True, slots=True)
class TicketNumber:
    """A ticket number; build it with ``make_ticket_number`` or ``parse_ticket_number``."""

    be_year: int
    serial: int

    @property
    def digits(self) -> str:
        """The full number as stored and keyed, e.g. ``6900012346``."""
        body = self._body()
        return body + damm_check_digit(body)

    @property
    def display(self) -> str:
        """The number grouped for screens and print, e.g. ``69-0001234-6``."""
        digits = self.digits
        return f"{digits[:2]}-{digits[2:-1]}-{digits[-1]}"

    @property
    def spoken_digits(self) -> tuple[str, ...]:
        """One item per digit: the IVR reads numbers digit by digit, never as an amount."""
        return tuple(self.digits)

    def __str__(self) -> str:
        return self.digits

    def _body(self) -> str:
        return f"{self.be_year % 100:02d}{self.serial:0{SERIAL_WIDTH}d}"


def make_ticket_number(be_year: int, serial: int) -> TicketNumber:
    """Number the ``serial``-th ticket of the system in Buddhist-era year ``be_year``."""
    if not MIN_BE_YEAR <= be_year <= MAX_BE_YEAR:
        raise ValidationError(
            f"the year must be a Buddhist-era year from {MIN_BE_YEAR} to {MAX_BE_YEAR}, "
            f"not {be_year}",
            field="be_year",
        )
    if serial < 1:
        raise ValidationError(f"the serial must be 1 or more, not {serial}", field="serial")
    return TicketNumber(be_year=be_year, serial=serial)


def parse_ticket_number(text: str, *, century_be: int = 2500) -> TicketNumber:
    """Read a ticket number as people type or key it; refuse a mistyped one before any lookup.

    Spaces and hyphens are ignored. ``century_be`` is the Buddhist-era century the 2-digit year
    belongs to (2500 covers 2500-2599, i.e. AD 1957-2056).
    """
    if century_be % 100 or not MIN_BE_YEAR <= century_be <= MAX_BE_YEAR:
        raise ValueError(
            f"century_be must be a Buddhist-era century such as 2500, not {century_be}"
        )
    digits = _SEPARATORS.sub("", text.strip())
    _check_shape(digits)
    if not damm_is_valid(digits):
        raise ValidationError(
            f"{text.strip()} is not a valid ticket number; it was probably mistyped, "
            "please check each digit",
            field="number",
        )
    number = TicketNumber(be_year=century_be + int(digits[:2]), serial=int(digits[2:-1]))
    if number.serial < 1 or number.digits != digits:
        raise ValidationError(f"{text.strip()} is not a valid ticket number", field="number")
    return number


def _check_shape(digits: str) -> None:
    if not digits:
        raise ValidationError("enter the ticket number", field="number")
    if not _ASCII_DIGITS.fullmatch(digits):
        raise ValidationError(
            "a ticket number may contain only digits 0-9, spaces and hyphens", field="number"
        )
    if len(digits) < MIN_NUMBER_LENGTH:
        raise ValidationError(
            f"a ticket number has at least {MIN_NUMBER_LENGTH} digits; this one has {len(digits)}",
            field="number",
        )


def be_year_of(dt: datetime, tz: ZoneInfo) -> int:
    """The Buddhist-era year of instant ``dt`` as lived in ``tz``.

    At 17:00 UTC on 31 December it is already the next year in Bangkok; a ticket takes the
    year its caller lives in, not the server's.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("be_year_of needs an aware datetime, got a naive one")
    return dt.astimezone(tz).year + BUDDHIST_ERA_OFFSET
