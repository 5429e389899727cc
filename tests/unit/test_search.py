"""The search text and search terms: what a substring search compares (pure)."""

from __future__ import annotations

import pytest
from pythainlp.util import normalize as pythainlp_normalize

from ticketing.search import like_pattern, normalize_text, search_document, search_terms


@pytest.mark.parametrize(
    "typed",
    [
        "น\u0e4d\u0e49าประปา",  # sara am as nikhahit + tone + sara aa
        "น\u0e49\u0e4dาประปา",  # tone, then nikhahit + sara aa
        "ก\u0e48\u0e38ง",  # tone keyed before the lower vowel
        "ที\u0e48\u0e48ดิน",  # a doubled tone mark
        "\u0e40\u0e40ปลก",  # sara e twice for sara ae
        "ประ\u200bปา",  # a zero-width space from a paste
    ],
)
def test_thai_typing_variants_normalise_as_pythainlp_does(typed: str) -> None:
    assert normalize_text(typed) == pythainlp_normalize(typed)


def test_thai_digits_latin_case_spaces_and_every_invisible_character() -> None:
    assert normalize_text("ประ\u200cปา\u200d\ufeff\u00ad") == "ประปา"
    assert normalize_text("  บ้านเลขที่ ๑๒/๓   ซอย ABC  ") == "บ้านเลขที่ 12/3 ซอย abc"


def test_the_document_holds_the_number_both_phone_forms_the_name_and_the_words() -> None:
    document = search_document(
        number="6900012346",
        description="โทรกลับที่ 089-999-1234 น้ำประปาไม่ไหล",
        caller_phone="+66812345678",
        citizen_name="สมชาย ใจดี",
    )
    assert document == (
        "6900012346 0812345678 66812345678 สมชาย ใจดี โทรกลับที่ 0899991234 น้ำประปาไม่ไหล"
    )
    assert search_document(number="6900012346", caller_phone="+14155552671") == (
        "6900012346 14155552671"
    )


@pytest.mark.parametrize(
    ("query", "terms"),
    [
        ("ประปา", ["ประปา"]),
        ("น้ำประปา  ไม่ไหล ไม่ไหล", ["น้ำประปา", "ไม่ไหล"]),
        ("69-0001234-6", ["6900012346"]),
        ("081-234-5678", ["0812345678"]),
        ("+66 81 234 5678", ["0812345678"]),
        ("(02) 123.4567", ["021234567"]),
        ("ซอย 5 หมู่ 12", ["ซอย", "5", "หมู่", "12"]),
        ("", []),
        (" ".join(f"คำ{i}" for i in range(20)), [f"คำ{i}" for i in range(8)]),
    ],
)
def test_search_terms(query: str, terms: list[str]) -> None:
    assert search_terms(query) == terms


def test_like_patterns_escape_wildcards() -> None:
    assert like_pattern("50%_a\\b") == "%50\\%\\_a\\\\b%"
