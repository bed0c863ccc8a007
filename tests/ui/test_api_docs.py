"""/docs (Swagger UI) and /redoc (ReDoc) in a real browser, as on a host without Internet access:
every file the pages load comes from the service, the pages draw every operation, Swagger UI's
requests reach the API (its changes too: they are same-origin) and the console stays clean."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, Route, expect

from tests.e2e.server import Server
from tests.ui.conftest import VIEWPORT, Console

pytestmark = pytest.mark.slow

KEY = "docs-page-key-0123456789"
MISSING_ID = "0" * 32


@dataclass
class Visit:
    """A browser tab on one of a server's pages: what it asked for, refused what left loopback."""

    page: Page
    server: Server
    console: Console
    requests: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def open(self, path: str) -> None:
        self.page.goto(self.origin + path)

    def off_loopback(self) -> list[str]:
        """The requests for anything but the server's own URLs (data: URLs stay in the page)."""
        return [
            url
            for url in self.requests
            if not url.startswith(self.origin + "/") and not url.startswith("data:")
        ]

    def operations(self) -> int:
        """How many operations the service publishes."""
        paths = self.server.http.get("/openapi.json").json()["paths"]
        return sum(len(operations) for operations in paths.values())


def visit(browser: Browser, server: Server, shots: Path) -> Iterator[Visit]:
    """A fresh context whose requests off loopback fail at once, as where there is no network."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    tab = Visit(page, server, Console())
    page.on("request", lambda request: tab.requests.append(request.url))
    page.on("console", tab.console.record)
    page.on("pageerror", lambda error: tab.console.errors.append(f"uncaught: {error}"))

    def loopback_only(route: Route) -> None:
        if route.request.url.startswith(tab.origin + "/"):
            route.continue_()
        else:
            route.abort("internetdisconnected")

    context.route("**/*", loopback_only)
    yield tab
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shots / "page.png"), full_page=True)
    context.close()


@pytest.fixture(scope="module")
def docs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("docs"), workers=0).start()
    yield running
    running.stop()


@pytest.fixture
def tab(browser: Browser, docs_server: Server, tmp_path: Path) -> Iterator[Visit]:
    yield from visit(browser, docs_server, tmp_path / "screenshots")


def try_out(page: Page, operation: str) -> Locator:
    """Open `operation` (a selector of its Swagger UI block) and press "Try it out"."""
    block = page.locator(operation)
    block.locator(".opblock-summary").click()
    block.get_by_role("button", name="Try it out").click()
    return block


def execute(block: Locator) -> Locator:
    """Press Execute; the status cell of the answer the page shows."""
    block.get_by_role("button", name="Execute").click()
    return block.locator(".live-responses-table tbody .response-col_status").first


FUNCTIONS = "#operations-functions-list_functions_v1_functions_get"


def test_swagger_ui_draws_every_operation_offline_and_reaches_the_api(tab: Visit) -> None:
    tab.open("/docs")
    expect(tab.page.locator(".opblock")).to_have_count(tab.operations())
    expect(tab.page.locator(".info .title")).to_contain_text("LSTM forecasting service")

    expect(execute(try_out(tab.page, FUNCTIONS))).to_have_text("200")
    # A change sent from the page is same-origin: the Origin rule lets it through (404: no job).
    cancel = try_out(tab.page, "[id^='operations-jobs-cancel_job']")
    cancel.locator("input[placeholder='job_id']").fill(MISSING_ID)
    expect(execute(cancel)).to_have_text("404")

    assert tab.off_loopback() == []
    assert f"{tab.origin}/ui/vendor/swagger-ui-bundle.js" in tab.requests
    # Chromium logs an HTTP error status as a console error naming the resource: the 404 above.
    assert tab.console.unexpected(rf"status of 404 .* at \S+/v1/jobs/{MISSING_ID}/cancel$") == []


def test_redoc_draws_every_operation_offline(tab: Visit) -> None:
    tab.open("/redoc")
    expect(tab.page.locator("h1")).to_contain_text("LSTM forecasting service")
    sections = tab.page.locator("[data-section-id^='operation/']")
    expect(sections).to_have_count(tab.operations())
    expect(tab.page.locator("h2", has_text="List the built-in functions")).to_be_visible()
    assert tab.off_loopback() == []
    assert f"{tab.origin}/ui/vendor/redoc.standalone.js" in tab.requests
    assert tab.console.errors == []


def test_with_keys_the_docs_page_loads_and_sends_the_key_typed_in(
    browser: Browser, tmp_path: Path
) -> None:
    server = Server(tmp_path / "keyed", workers=0, api_keys=KEY)
    (tmp_path / "keyed").mkdir()
    server.start()
    try:
        for tab in visit(browser, server, tmp_path / "screenshots"):
            tab.open("/docs")
            expect(tab.page.locator(".opblock")).to_have_count(tab.operations())
            tab.page.get_by_role("button", name="Authorize").first.click()
            tab.page.locator(".modal-ux input[type=text], .modal-ux input[type=password]").fill(KEY)
            tab.page.locator(".modal-ux .auth.authorize").click()
            tab.page.locator(".modal-ux .btn-done").click()
            expect(execute(try_out(tab.page, FUNCTIONS))).to_have_text("200")
            assert tab.off_loopback() == []
            assert tab.console.errors == []
    finally:
        server.stop()
