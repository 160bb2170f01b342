"""With API keys configured, the dashboard asks for a read key and keeps it for the tab only."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from .conftest import Console, wait_ready
from .live import LiveServer, create_key, run_vigil, start_server


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """A server with two days of events and one read key."""
    workdir = tmp_path_factory.mktemp("keyed")
    db = workdir / "vigil.duckdb"
    run_vigil("generate", workdir / "data", "--days", "2")
    run_vigil("ingest", workdir / "data" / "events.csv", "--db", db)
    key = create_key(db, "read")
    server = start_server(db, workdir)
    yield server, key
    server.stop()


def submit_key(page: Page, key: str) -> None:
    page.wait_for_selector("#key-dialog[open]")
    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")


def test_the_dashboard_asks_for_a_key_and_keeps_it_for_the_tab(
        page: Page, console: Console, keyed: tuple[LiveServer, str], browser: Browser,
        tmp_path: Path) -> None:
    server, key = keyed
    console.allow(r"status of 401")
    page.goto(f"{server.url}/#/overview")
    submit_key(page, "vgl_wrong_key")
    page.wait_for_selector("#key-dialog[open] #key-error:not([hidden])")
    assert "unknown API key" in page.inner_text("#key-error")
    submit_key(page, key)
    wait_ready(page)
    sources = server.get("/api/v1/cameras", key=key)["sources"]
    assert page.locator("#sources-table tbody tr").count() == len(sources)
    assert page.evaluate("sessionStorage.getItem('vigil.apiKey')") == key
    assert page.evaluate("localStorage.length") == 0
    another_tab = page.context.new_page()
    another_tab.on("console", console.on_message)
    another_tab.goto(f"{server.url}/#/overview")
    another_tab.wait_for_selector("#key-dialog[open]")
    another_tab.close()


def test_without_keys_no_key_is_asked(page: Page, live: LiveServer) -> None:
    page.goto(f"{live.url}/#/overview")
    wait_ready(page)
    assert page.locator("#key-dialog[open]").count() == 0
