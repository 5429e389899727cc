"""Each screen by role at a laptop's 1366×768 and a phone's 390 px: a screenshot of each in
test-artifacts/screenshots/, Thai error pages inside the layout, a header that neither wraps on
the laptop nor runs off the phone, and no English developer text in Thai mode."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import LiveServer, screenshot, sign_in
from tests.factories import make_agency, make_ticket

SIZES = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
DEVELOPER_WORDS = ("Forbidden", "Not Found", "Bad Request", "citizen_id:", "check digit",
                   "Traceback", "werkzeug")  # fmt: skip


def open_tab(browser: Browser, size: str) -> Page:
    context = browser.new_context(locale="th-TH", timezone_id="Asia/Bangkok", viewport=SIZES[size])
    context.set_default_timeout(10_000)
    return context.new_page()


def assert_header_fits(tab: Page, size: str) -> None:
    """The header never scrolls sideways; on the laptop its links stay on one line each."""
    overflow = tab.evaluate(
        "() => { const bar = document.querySelector('header.bar');"
        " return [bar.scrollWidth - bar.clientWidth,"
        " document.documentElement.scrollWidth - window.innerWidth]; }"
    )
    assert overflow[0] <= 0 and overflow[1] <= 0, f"the header overflows by {overflow} px"
    if size == "laptop":
        wrapped = tab.evaluate(
            "() => [...document.querySelectorAll('header.bar a, header.bar button')]"
            ".filter(e => e.getClientRects().length > 1).map(e => e.textContent)"
        )
        assert not wrapped, f"links wrap inside: {wrapped}"


def assert_thai_only(tab: Page) -> None:
    text = tab.locator("body").inner_text()
    for word in DEVELOPER_WORDS:
        assert word not in text, word


@pytest.mark.parametrize("size", SIZES)
def test_error_pages_are_thai_inside_the_layout(
    live_server: LiveServer, browser: Browser, size: str
) -> None:
    tab = open_tab(browser, size)
    sign_in(tab, live_server, live_server.user("agent"))
    for path, status, title in (("/console/metrics", 403, "ไม่มีสิทธิ์เปิดหน้านี้"),
                                ("/console/tickets/999999999", 404, "ไม่พบหน้าที่ต้องการ")):  # fmt: skip
        response = tab.goto(live_server.url + path)
        assert response is not None and response.status == status
        expect(tab.locator("h1")).to_have_text(title)
        assert_thai_only(tab)
        assert_header_fits(tab, size)
        screenshot(tab, f"error-{status}-agent-{size}")
        tab.click("#way-back")
        expect(tab.locator("h1")).not_to_have_text(title)
    tab.context.close()


def test_the_form_is_not_sent_while_the_citizen_id_is_wrong(
    live_server: LiveServer, page: Page
) -> None:
    sign_in(page, live_server, live_server.user("agent"))
    page.goto(f"{live_server.url}/console/tickets/new")
    page.select_option("#category", index=1)
    page.fill("#description", "ถนนในหมู่บ้านชำรุด")
    page.fill("#citizen_id", "1101700207031")  # the check digit is wrong
    expect(page.locator("#cid-status")).to_have_text("เลขประจำตัวประชาชนไม่ถูกต้อง โปรดตรวจสอบอีกครั้ง")
    page.click("#ticket-form button[type=submit]")
    expect(page.locator("#cid-status")).to_contain_text("ก่อนบันทึก")
    assert page.url.endswith("/console/tickets/new"), "the form stayed where it was"
    assert page.evaluate("document.activeElement.id") == "citizen_id"
    screenshot(page, "new-ticket-wrong-citizen-id-1280")
    page.fill("#citizen_id", "")
    page.click("#ticket-form button[type=submit]")
    page.wait_for_url(lambda url: "/console/tickets/new" not in url)


HOME_OF = {"agent": "/console/", "supervisor": "/console/metrics", "agency": "/console/referrals"}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("role", HOME_OF)
def test_the_menu_offers_only_what_the_role_may_open_and_fits(
    live_server: LiveServer, browser: Browser, role: str, size: str
) -> None:
    tab = open_tab(browser, size)
    missing: list[str] = []
    tab.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    sign_in(tab, live_server, live_server.user(role, **_agency_of(live_server, role)))
    tab.goto(live_server.url + HOME_OF[role])
    assert_header_fits(tab, size)
    if size == "laptop":
        height = tab.evaluate("document.querySelector('header.bar').offsetHeight")
        assert height < 70, f"the header wraps onto a second line ({height} px)"
    screenshot(tab, f"home-{role}-{size}")
    links = tab.eval_on_selector_all("header.bar nav a", "links => links.map(a => a.href)")
    assert links, "the menu has links"
    for link in links:
        response = tab.goto(link)
        assert response is not None and response.status == 200, link
    assert not missing, f"404s (the favicon?): {missing}"
    tab.context.close()


def _agency_of(server: LiveServer, role: str) -> dict[str, object]:
    if role != "agency":
        return {}
    return {"agency_code": make_agency(server.db).code}


@pytest.mark.parametrize("size", SIZES)
def test_the_ticket_page_shows_the_place_and_confirms_a_note(
    live_server: LiveServer, browser: Browser, size: str
) -> None:
    ticket = make_ticket(live_server.db, province_code="50", district_code="5001",
                         postal_code="50200")  # fmt: skip
    tab = open_tab(browser, size)
    sign_in(tab, live_server, live_server.user("agent"))
    tab.goto(f"{live_server.url}/console/tickets/{ticket.number}")
    expect(tab.locator("#location")).to_contain_text("เชียงใหม่")
    expect(tab.locator("#complainant")).not_to_contain_text("- ·")
    tab.fill("textarea[name=body]", "โทรกลับผู้ร้องแล้ว")
    tab.locator("form[action$='/notes'] button[type=submit]").click()
    expect(tab.locator(".notice.done")).to_have_text("บันทึกข้อความแล้ว")
    assert_thai_only(tab)
    assert_header_fits(tab, size)
    screenshot(tab, f"ticket-agent-{size}")
    tab.context.close()
