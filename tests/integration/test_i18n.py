"""Thai first, English on request: every visible string goes through the catalog."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from flask import Flask

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "hotline" / "translations" / "en" / "LC_MESSAGES"
THAI = re.compile(r"[\u0E00-\u0E7F]")
JINJA = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.S)


def _text(value: str | bytes | None) -> str | None:
    return value.decode() if isinstance(value, bytes) else value


def test_templates_have_no_thai_outside_the_catalog() -> None:
    bare = []
    for template in (ROOT / "hotline" / "templates").rglob("*.html"):
        for line_no, line in enumerate(template.read_text().splitlines(), 1):
            text = JINJA.sub("", line)
            if THAI.search(text) and 'lang="th"' not in line:
                bare.append(f"{template.relative_to(ROOT)}:{line_no}: {text.strip()}")
    assert bare == [], "wrap these in {{ _('…') }}:\n" + "\n".join(bare)


def test_every_message_has_an_english_translation_and_the_mo_is_compiled() -> None:
    method_map = [("hotline/**.py", "python"), ("hotline/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "_l": None, "lazy_gettext": None,
                "pgettext": ((1, "c"), 2)}  # fmt: skip
    source_ids = {
        (context, msg if isinstance(msg, str) else msg[0])
        for _, _, msg, _, context in extract_from_dir(ROOT, method_map, keywords=keywords)
    }
    with (CATALOG / "messages.po").open("rb") as f:
        po = {(m.context, m.id): m.string for m in read_po(f) if m.id}
    with (CATALOG / "messages.mo").open("rb") as f:
        # read_mo gives a message's context as bytes
        mo = {(_text(m.context), m.id): m.string for m in read_mo(f) if m.id}
    assert sorted(source_ids - set(po)) == [], "run `make messages` and translate"
    assert sorted(i for i, s in po.items() if not s) == [], "untranslated entries"
    assert mo == po, "messages.mo is stale: run `make messages`"


def test_the_sign_in_page_switches_to_english_and_back(voice_app: Flask) -> None:
    client = voice_app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    assert "เข้าสู่ระบบ" in page and 'lang="th"' in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    switched = client.post(
        "/language", data={"lang": "en", "next": "/auth/login", "csrf_token": token[1]}
    )
    assert switched.status_code == 302 and switched.location.endswith("/auth/login")
    english = client.get("/auth/login").get_data(as_text=True)
    assert "Sign in" in english and 'html lang="en"' in english
    assert THAI.findall(JINJA.sub("", english)) == list("ภาษาไทย")  # only the switch back


def test_an_unknown_language_or_a_foreign_redirect_is_refused(voice_app: Flask) -> None:
    client = voice_app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    assert client.post("/language", data={"lang": "fr", "csrf_token": token[1]}).status_code == 400
    away = client.post(
        "/language", data={"lang": "en", "next": "//evil.example", "csrf_token": token[1]}
    )
    assert away.status_code == 302 and away.location == "/console/"
