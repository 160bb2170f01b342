"""Fixtures of the dashboard tests: a live ``vigil serve`` with generated data and a headless
Chromium (the system's, driven by Playwright) whose console errors fail the test."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Error, Page, sync_playwright

from .live import LiveServer, build_dataset, start_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("VIGIL_TEST_ARTIFACTS", ROOT / "test-artifacts"))
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
READY_TIMEOUT_MS = 30_000


def chromium_path() -> str:
    """The system Chromium (``$VIGIL_CHROMIUM`` first); the test command installs it."""
    given = os.environ.get("VIGIL_CHROMIUM")
    found = given or next(filter(None, map(shutil.which, CHROMIUM_NAMES)), None)
    if not found:
        pytest.fail("no Chromium found: run scripts/install-servers (it installs the Debian "
                    "package chromium) or set VIGIL_CHROMIUM", pytrace=False)
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(),
                                              args=["--no-sandbox", "--disable-gpu",
                                                    "--disable-dev-shm-usage"])
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server with four weeks of generated camera events and injected anomalies."""
    workdir = tmp_path_factory.mktemp("live")
    server = start_server(build_dataset(workdir), workdir)
    yield server
    server.stop()


@dataclass
class Console:
    """Console errors and uncaught exceptions of a page; ``allow`` expected ones."""

    errors: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def on_message(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def on_error(self, error: Error) -> None:
        self.errors.append(f"uncaught: {error}")

    def allow(self, pattern: str) -> None:
        self.allowed.append(re.compile(pattern))

    def unexpected(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.allowed)]


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Browser, console: Console, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh tab (own session storage); a full-page screenshot is saved afterwards to
    ``test-artifacts/screenshots/<test>.png``, and console errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB",
                                  timezone_id="UTC")
    opened = context.new_page()
    opened.set_default_timeout(READY_TIMEOUT_MS)
    opened.on("console", console.on_message)
    opened.on("pageerror", console.on_error)
    yield opened
    shots = ARTIFACTS / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    opened.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    context.close()
    assert console.unexpected() == [], "the page logged errors"


def open_page(page: Page, server: LiveServer, route: str) -> None:
    """Load ``/#/<route>`` and wait until the page says it is ready."""
    page.goto(f"{server.url}/#/{route}")
    wait_ready(page)


def wait_ready(page: Page) -> None:
    """Wait for the current page's content to finish loading (``data-ready``)."""
    page.wait_for_selector("main .page[data-ready=true]", timeout=READY_TIMEOUT_MS)
