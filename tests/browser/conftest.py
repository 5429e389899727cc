"""Browser tests: Playwright drives Debian's Chromium against `hotline run` on its embedded default.

Playwright cannot download a browser here, so it uses /usr/bin/chromium (`make test` installs the
chromium package when it is missing). Without it the tests skip with the reason, except under
REQUIRE_SERVICES=1 (CI), where that is a failure. Each test leaves a screenshot of its last page
in test-artifacts/screenshots/.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import delete

from ivr_flows.loader import flow_path
from tests.conftest import free_port, service_missing
from tests.factories import make_user, unique
from ticketing.db.engine import Database
from ticketing.db.uow import UnitOfWork
from ticketing.models import Holiday

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
BIN = Path(sys.executable).parent
PASSWORD = "correct horse battery"
# A microphone and a camera that exist, answer "allowed" and play a tone: no prompts, no devices.
WEEK = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@dataclass
class LiveServer:
    """`hotline run` in a subprocess, as `make demo` starts it, on a fresh SQLite database."""

    url: str
    env: dict[str, str]
    db: Database
    users: dict[str, str] = field(default_factory=dict)

    def user(self, role: str, **overrides: object) -> str:
        """A signed-up user of ``role``; returns the username (the password is PASSWORD)."""
        username = str(overrides.pop("username", unique(role)))
        make_user(self.db, role, username=username, **overrides)
        self.users[username] = role
        return username

    def cli(self, *args: str) -> str:
        done = subprocess.run([str(BIN / "hotline"), *args], env=self.env, check=True,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        return done.stdout


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "INSTANCE_DIR": str(tmp_path), "PUBLIC_BASE_URL": url,
           "DATABASE_URL": "", "REDIS_URL": "", "LOG_LEVEL": "WARNING"}  # fmt: skip
    subprocess.run([str(BIN / "hotline"), "db", "upgrade"], env=env, check=True,
                   capture_output=True)  # fmt: skip
    proc = subprocess.Popen([str(BIN / "hotline"), "run", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    db = Database.connect(f"sqlite:///{tmp_path / 'hotline.sqlite3'}")
    try:
        _wait_until_up(url)
        yield LiveServer(url, env, db)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        db.dispose()


@pytest.fixture
def staffed_server(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> LiveServer:  # fmt: skip
    """``live_server`` with agents on duty around the clock, so pressing 0 reaches the queue
    whenever the test runs: the demo's flow with its hours widened, and no holidays."""
    flow = yaml.safe_load(flow_path("1567").read_text(encoding="utf-8"))
    flow.setdefault("hours", {}).update(days=list(WEEK), open="00:00", close="23:59")
    path = tmp_path_factory.mktemp("flow") / "always_open.yaml"
    path.write_text(yaml.safe_dump(flow, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("IVR_FLOW", str(path))
    server: LiveServer = request.getfixturevalue("live_server")
    with UnitOfWork(server.db) as uow:
        uow.session.execute(delete(Holiday))
        uow.commit()
    return server


def _wait_until_up(url: str) -> None:
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1):  # noqa: S310 - our app
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"the app did not start at {url}")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        service_missing("Chromium", f"{CHROMIUM} is missing; `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FAKE_MEDIA)
        yield chromium
        chromium.close()


def new_context(browser: Browser) -> BrowserContext:
    """A fresh browser profile (its own cookies): one person at one computer."""
    context = browser.new_context(
        locale="th-TH", timezone_id="Asia/Bangkok", viewport={"width": 1280, "height": 860}
    )
    context.set_default_timeout(10_000)
    return context


def screenshot(tab: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = new_context(browser)
    tab = context.new_page()
    try:
        yield tab
    finally:
        screenshot(tab, request.node.name)
        context.close()


def sign_in(page: Page, server: LiveServer, username: str) -> None:
    page.goto(f"{server.url}/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit] >> nth=-1")
    page.wait_for_url(lambda url: "/auth/login" not in url)
