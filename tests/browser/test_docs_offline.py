"""``/docs`` and ``/redoc`` in a real browser with no network: a real ``rolegate serve``, and
Debian's chromium driven by Playwright, with every request to another host aborted."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from rolegate import Rolegate
from tests.api.test_serve import start_server, stop
from tests.factories import FAST_HASHER

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package: Playwright's download is not used
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path("/tmp")  # a copy of each screenshot, to look at after a run
LOCAL_HOST = "127.0.0.1"


@dataclass
class Visit:
    """One page load: the page, the requests refused for leaving this host, and the errors
    the page reported."""

    page: Page
    elsewhere: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ``rolegate serve`` on a SQLite file, at a free port of 127.0.0.1."""
    directory = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{directory / 'docs.db'}"
    Rolegate(url, hasher=FAST_HASHER).close()
    server, base_url = start_server(directory, url)
    try:
        yield base_url
    finally:
        stop(server)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless; missing, the test fails in CI (ROLEGATE_REQUIRE_BROWSER=1)
    and is skipped elsewhere."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if os.environ.get("ROLEGATE_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def visit(browser: Browser) -> Iterator[Visit]:
    """A fresh page whose requests to any host but 127.0.0.1 are aborted and recorded, as
    they would fail on a machine with no network."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = Visit(page)

    def only_this_host(route: Route) -> None:
        if urlsplit(route.request.url).hostname == LOCAL_HOST:
            route.continue_()
        else:
            seen.elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_this_host)
    page.on("console", lambda m: seen.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    try:
        yield seen
    finally:
        context.close()


def screenshot(page: Page, tmp_path: Path, name: str) -> None:
    taken = tmp_path / name
    page.screenshot(path=str(taken))
    shutil.copyfile(taken, SCREENSHOTS / name)


def test_swagger_ui_renders_with_no_network(base_url: str, visit: Visit, tmp_path: Path) -> None:
    page = visit.page
    page.goto(f"{base_url}/docs", wait_until="networkidle")
    expect(page.locator(".information-container .title")).to_contain_text("rolegate")
    create_tenant = page.locator(".opblock-post").filter(
        has=page.locator(".opblock-summary-path", has_text="/v1/tenants")
    )
    expect(create_tenant.first).to_be_visible()
    # The descriptions are Markdown: an operation's code spans render as <code>.
    check = page.locator(".opblock-summary-path", has_text="/v1/tenants/{tenant}/check")
    check.first.click()
    expect(page.locator(".opblock-description code", has_text="allowed").first).to_be_visible()
    screenshot(page, tmp_path, "h1-docs.png")
    assert page.title() == "rolegate - Swagger UI"
    assert visit.elsewhere == [], "requests to other hosts"
    assert visit.errors == [], "errors on the page"


def test_redoc_renders_with_no_network(base_url: str, visit: Visit, tmp_path: Path) -> None:
    page = visit.page
    page.goto(f"{base_url}/redoc", wait_until="networkidle")
    expect(page.locator("h1").first).to_contain_text("rolegate")
    operations = page.locator("[data-section-id^='operation/']")
    expect(operations.first).to_be_visible()
    assert operations.count() > 20
    # The descriptions are Markdown: code spans render as <code>, never as typed backticks.
    expect(page.locator("code", has_text="next_cursor").first).to_be_attached()
    assert "``" not in page.inner_text("body")
    screenshot(page, tmp_path, "h1-redoc.png")
    assert page.title() == "rolegate - ReDoc"
    assert visit.elsewhere == [], "requests to other hosts"
    assert visit.errors == [], "errors on the page"
