"""A supervisor's metrics on demo data: the charts draw, an export downloads a valid XLSX, the
wallboard goes live; an agent is refused the supervisor pages."""

from __future__ import annotations

import io
import re
from pathlib import Path

from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, LiveServer, sign_in


def test_a_supervisor_reads_the_dashboard_and_downloads_excel(
    live_server: LiveServer, page: Page
) -> None:
    live_server.cli("demo-data", "--tickets", "200", "--days", "30")
    sign_in(page, live_server, live_server.user("supervisor"))
    page.click("nav >> text=สถิติ")
    expect(page.locator("h1")).to_have_text("สถิติสายด่วน 1567")
    for chart, mark in (("calls", "rect"), ("heatmap", "rect"), ("funnel", "rect"),
                        ("categories", "rect"), ("provinces", "rect")):  # fmt: skip
        drawn = page.locator(f'svg[data-chart="{chart}"] {mark}')
        expect(drawn.first).to_be_visible()
        box = page.locator(f'svg[data-chart="{chart}"]').bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50
    heights = page.locator('svg[data-chart="calls"] rect.bar').evaluate_all(
        "bars => bars.map(b => b.getBBox().height)"
    )
    assert sum(heights) > 0, "the calls chart has bars with height"

    with page.expect_download() as download_info:
        page.click('a[data-export="categories"]')
    download = download_info.value
    assert download.suggested_filename.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(download.path()).read_bytes())).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("ประเภท", "จำนวนเรื่อง")
    assert sum(int(count) for _name, count in rows[1:]) > 0  # type: ignore[call-overload]

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "metrics-dashboard.png"), full_page=True)
    page.click("nav >> text=กระดานสด")
    expect(page.locator(".wallboard")).to_have_attribute("data-updated", re.compile(r"\d+"))


def test_an_agent_is_refused_the_supervisor_pages(live_server: LiveServer, page: Page) -> None:
    sign_in(page, live_server, live_server.user("agent"))
    expect(page.locator("nav >> text=สถิติ")).to_have_count(0)
    for path in ("/console/metrics", "/console/wallboard", "/console/staffing"):
        response = page.goto(live_server.url + path)
        assert response is not None and response.status == 403
