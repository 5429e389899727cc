"""Thai citizen ID numbers (เลขประจำตัวประชาชน): 13 digits, the last a mod-11 check digit.

Checking the number when it is entered catches most typing mistakes, and masking it keeps the
full number off lists and screens that do not need it (PDPA). The national check digit is weaker
than it looks: the third digit has weight 11 (0 mod 11), so a change to it is never caught, and
sums of 0 and 10 mod 11 share check digit 1. A passing ID is plausible, not proven.
"""

from __future__ import annotations

import random
import re

from ticketing.errors import ValidationError

CITIZEN_ID_LENGTH = 13
VISIBLE_DIGITS_WHEN_MASKED = 4
_GROUP_SIZES = (1, 4, 5, 2, 1)  # the printed form #-####-#####-##-#
_ALLOWED_FIRST_DIGITS = "12345678"
_SEPARATORS = re.compile(r"[ \-]")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_FIELD = "citizen_id"


def citizen_id_check_digit(first_twelve: str) -> str:
    """The 13th digit: (11 - sum(d_i * (13 - i)) mod 11) mod 10 over the first 12 digits."""
    weighted_sum = sum(int(digit) * (13 - i) for i, digit in enumerate(first_twelve))
    return str((11 - weighted_sum % 11) % 10)


def normalize_citizen_id(text: str) -> str:
    """The 13 digits of a citizen ID typed with or without spaces and hyphens.

    Raises ValidationError naming the first problem: characters, length, first digit, checksum.
    """
    digits = _SEPARATORS.sub("", text.strip())
    if not digits:
        raise ValidationError("enter the 13-digit citizen ID", field=_FIELD, rule="empty")
    if not _ASCII_DIGITS.fullmatch(digits):
        raise ValidationError(
            "a citizen ID may contain only digits 0-9, spaces and hyphens",
            field=_FIELD,
            rule="characters",
        )
    if len(digits) != CITIZEN_ID_LENGTH:
        raise ValidationError(
            f"a citizen ID has {CITIZEN_ID_LENGTH} digits; this one has {len(digits)}",
            field=_FIELD,
            rule="length",
        )
    if digits[0] not in _ALLOWED_FIRST_DIGITS:
        raise ValidationError(
            f"a citizen ID cannot start with {digits[0]}; the first digit is 1 to 8",
            field=_FIELD,
            rule="first_digit",
        )
    if citizen_id_check_digit(digits[:12]) != digits[12]:
        raise ValidationError(
            "this citizen ID fails its check digit; one of the digits was probably mistyped",
            field=_FIELD,
            rule="check_digit",
        )
    return digits


def is_valid_citizen_id(text: str) -> bool:
    """Whether ``normalize_citizen_id`` would accept ``text``."""
    try:
        normalize_citizen_id(text)
    except ValidationError:
        return False
    return True


def format_citizen_id(cid: str) -> str:
    """The printed form ``1-2345-67890-12-1``, as on the ID card."""
    return _group(_thirteen_digits(cid))


def mask_citizen_id(cid: str) -> str:
    """The printed form with all but the last 4 digits hidden, e.g. ``x-xxxx-xxxx0-12-1``.

    Four digits are enough for an agent to confirm the number with the caller, not to misuse it.
    """
    digits = _thirteen_digits(cid)
    hidden = CITIZEN_ID_LENGTH - VISIBLE_DIGITS_WHEN_MASKED
    return _group("x" * hidden + digits[hidden:])


def generate_citizen_id(rng: random.Random) -> str:
    """A random valid citizen ID for demo and test data (never a real person's on purpose)."""
    first_twelve = rng.choice(_ALLOWED_FIRST_DIGITS) + "".join(
        rng.choice("0123456789") for _ in range(11)
    )
    return first_twelve + citizen_id_check_digit(first_twelve)


def _thirteen_digits(cid: str) -> str:
    """The digits of a stored ID; the checksum is not required, so legacy records still show."""
    digits = _SEPARATORS.sub("", cid.strip())
    if len(digits) != CITIZEN_ID_LENGTH or not _ASCII_DIGITS.fullmatch(digits):
        raise ValidationError(f"a citizen ID has {CITIZEN_ID_LENGTH} digits 0-9", field=_FIELD)
    return digits


def _group(thirteen: str) -> str:
    groups: list[str] = []
    start = 0
    for size in _GROUP_SIZES:
        groups.append(thirteen[start : start + size])
        start += size
    return "-".join(groups)
