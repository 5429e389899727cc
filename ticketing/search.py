"""Thai full-text search over tickets: the searchable text and the search terms (pure).

A ticket's searchable text (``Ticket.search_text``) and a user's query go through the same
normalisation, so a substring test (SQL ``LIKE '%term%'``) finds what people mean:

- Thai text: zero-width characters removed, sara am typed as nikhahit + sara aa joined (and
  sara e typed twice as sara ae), tone
  marks put after the vowel they sit on and doubled marks dropped (the same rules as
  ``pythainlp.util.normalize``, in three regexes: it runs on every ticket opened), Thai
  digits as Arabic digits, Latin letters in lower case;
- numbers: a ticket number or a phone number typed with dashes, spaces, dots or a ``+66``
  prefix becomes its bare digits; the text holds each phone both as ``0812345678`` and as
  ``66812345678``, so either way of typing it matches.

Thai is written without spaces between words, so substrings, not words, are what is indexed:
"ประปา" is found inside "น้ำประปาไม่ไหล". PostgreSQL serves the ``LIKE`` from a pg_trgm GIN
index; see docs/search.md.
"""

from __future__ import annotations

import re
import unicodedata

MAX_QUERY_LENGTH = 200
MAX_TERMS = 8
# pg_trgm cannot index a term of fewer than 3 characters: searching one reads every ticket.
MIN_TERM_LENGTH = 3
# Regexes rather than str.translate: translate is slow on non-ASCII text, and this runs per ticket.
_INVISIBLE = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_THAI_DIGIT = re.compile("[๐-๙]")
# Digits broken up by the separators people type in numbers: 081-234-5678, +66 81 234 5678,
# 69-0001234-6, (02) 123.4567. At least 6 digits, so "ซอย 5 หมู่ 12" stays as words.
_NUMBER = re.compile(r"\+?\(?\d[\d\s\-.()]{4,}\d\)?")
_NOT_DIGIT = re.compile(r"\D")
_SPACE = re.compile(r"\s+")
_TONE = "\u0e48-\u0e4b"
_ABOVE_OR_BELOW = "\u0e31\u0e34-\u0e3a\u0e47\u0e4c-\u0e4e"
# Sara am keyed as nikhahit + sara aa, with or without a tone mark between: น + ํ + ้ + า → น้ำ.
_SARA_AM = re.compile(f"\u0e4d([{_TONE}]?)\u0e32")
# A tone mark keyed before the vowel it sits on: ก + ่ + ุ → ก + ุ + ่.
_TONE_FIRST = re.compile(f"([{_TONE}])([{_ABOVE_OR_BELOW}])")
_DOUBLED_MARK = re.compile(f"([{_TONE}{_ABOVE_OR_BELOW}])\\1+")
_THAI_COUNTRY_CODE = "66"


def normalize_text(text: str) -> str:
    """The form both the searchable text and queries are compared in."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFC", text))
    text = _THAI_DIGIT.sub(lambda digit: str(ord(digit.group()) - ord("๐")), text)
    text = _SARA_AM.sub("\\1\u0e33", text).replace("\u0e40\u0e40", "\u0e41")  # เ + เ → แ
    text = _DOUBLED_MARK.sub("\\1", _TONE_FIRST.sub("\\2\\1", text)).casefold()
    return _SPACE.sub(" ", text).strip()


def search_document(
    *,
    number: str,
    description: str = "",
    caller_phone: str | None = None,
    citizen_name: str | None = None,
) -> str:
    """The searchable text of a ticket: its number, phone forms, the citizen's name and words."""
    words = [_compact_numbers(normalize_text(text)) for text in (citizen_name or "", description)]
    return " ".join(part for part in (number, *phone_forms(caller_phone), *words) if part)


def phone_forms(e164: str | None) -> list[str]:
    """The digit strings a Thai number is typed as: ``+66812345678`` → national and E.164."""
    if not e164:
        return []
    digits = _NOT_DIGIT.sub("", e164)
    if digits.startswith(_THAI_COUNTRY_CODE):
        return ["0" + digits[len(_THAI_COUNTRY_CODE) :], digits]
    return [digits]


def search_terms(query: str) -> list[str]:
    """The substrings a ticket must all contain to match ``query`` (empty: no search).

    Numbers lose their separators (``081-234-5678`` → ``0812345678``) and a leading ``+66``
    becomes ``0`` (the national form is in every Thai ticket's text). Words are split on spaces.
    """
    text = _compact_numbers(normalize_text(query[:MAX_QUERY_LENGTH]))
    terms = list(dict.fromkeys(text.split()))
    return terms[:MAX_TERMS]


def short_terms(terms: list[str]) -> list[str]:
    """The terms too short to search for (see MIN_TERM_LENGTH)."""
    return [term for term in terms if len(term) < MIN_TERM_LENGTH]


def _compact_numbers(text: str) -> str:
    """Numbers written with separators as bare digits, in queries and in complaint text alike."""
    compact = _NUMBER.sub(lambda match: " " + _number_term(match.group()) + " ", text)
    return _SPACE.sub(" ", compact).strip()


def _number_term(typed: str) -> str:
    digits = _NOT_DIGIT.sub("", typed)
    if typed.lstrip("(").startswith("+" + _THAI_COUNTRY_CODE):
        return "0" + digits[len(_THAI_COUNTRY_CODE) :]
    return digits


def like_pattern(term: str) -> str:
    r"""``%term%`` with LIKE's wildcards escaped (use with ``ESCAPE '\'``)."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
