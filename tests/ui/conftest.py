"""A real browser on a real server: Debian's chromium (`.ci/services` installs it) driven by
Playwright, against `forecast-service serve` on loopback (tests/e2e's Server)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from tests.e2e.server import Server

CHROMIUM = "/usr/bin/chromium"  # Debian's package: browser downloads are not reachable in CI
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # tests run as root in containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1200, "height": 900}
LIVENESS_MS = 60_000  # how long a page may take to show what a test waits for: not a speed target
TRAINING_MS = 180_000  # how long a test's small job may take to end on a busy machine

expect.set_options(timeout=LIVENESS_MS)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"{CHROMIUM} is missing: run `bash .ci/services` (installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Console:
    """What the page reported as errors: console.error lines, uncaught exceptions and failed
    loads (Chromium logs an HTTP error status as a console error naming the resource)."""

    errors: list[str] = field(default_factory=list)

    def record(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"{message.text} at {message.location.get('url', '?')}")

    def unexpected(self, *expected: str) -> list[str]:
        """The errors no pattern of `expected` accounts for."""
        return [e for e in self.errors if not any(re.search(p, e) for p in expected)]


@dataclass
class Dashboard:
    """A browser tab on a server's /ui/, its console, and a folder for its screenshots."""

    page: Page
    server: Server
    console: Console
    shots: Path

    def open(self, fragment: str = "") -> None:
        self.page.goto(f"http://127.0.0.1:{self.server.port}/ui/{fragment}")

    def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


def open_dashboard(browser: Browser, server: Server, shots: Path) -> Iterator[Dashboard]:
    """A fresh browser context (its own sessionStorage) on `server`."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(LIVENESS_MS)
    console = Console()
    page.on("console", console.record)
    page.on("pageerror", lambda error: console.errors.append(f"uncaught: {error}"))
    shots.mkdir(parents=True, exist_ok=True)
    yield Dashboard(page, server, console, shots)
    context.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "service"
    root.mkdir()
    running = Server(root).start()
    yield running
    running.stop()


@pytest.fixture
def dashboard(browser: Browser, server: Server, tmp_path: Path) -> Iterator[Dashboard]:
    yield from open_dashboard(browser, server, tmp_path / "screenshots")
