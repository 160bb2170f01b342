"""The dashboard's shell: served at /, works offline, filters live in the URL."""

from __future__ import annotations

import re
import urllib.request

from playwright.sync_api import Page, Request

from .conftest import open_page, wait_ready
from .live import LiveServer

PAGES = ("overview", "camera", "anomalies", "analytics", "patterns", "uploads")


def test_every_page_loads_without_errors(page: Page, live: LiveServer) -> None:
    for name in PAGES:
        open_page(page, live, name)
        assert page.locator(f"main .page[data-page={name}]").count() == 1
        assert page.locator("#nav a.active").inner_text().lower() == name


def test_no_request_leaves_the_origin(page: Page, live: LiveServer) -> None:
    """Everything the page loads comes from the service: it works offline."""
    foreign: list[str] = []

    def watch(request: Request) -> None:
        if not request.url.startswith((live.url, "data:")):
            foreign.append(request.url)

    page.on("request", watch)
    for name in PAGES:
        open_page(page, live, name)
    assert foreign == []


def test_the_static_files_name_no_other_host(live: LiveServer) -> None:
    with urllib.request.urlopen(live.url + "/") as answer:
        html = answer.read().decode()
    assert answer.headers["content-type"].startswith("text/html")
    assert re.findall(r"(?:src|href)=\"(https?:)?//", html) == []
    with urllib.request.urlopen(live.url + "/ui/js/main.js") as answer:
        assert "import" in answer.read().decode()


def test_the_date_range_lives_in_the_url_and_the_back_button_restores_it(
        page: Page, live: LiveServer) -> None:
    open_page(page, live, "anomalies?from=2026-03-30&to=2026-04-05")
    assert page.input_value("#filter-from") == "2026-03-30"
    page.fill("#filter-from", "2026-04-01")
    page.dispatch_event("#filter-from", "change")
    page.wait_for_url(re.compile(r"from=2026-04-01"))
    wait_ready(page)
    assert page.input_value("#filter-from") == "2026-04-01"
    page.go_back()
    page.wait_for_url(re.compile(r"from=2026-03-30"))
    wait_ready(page)
    assert page.input_value("#filter-from") == "2026-03-30"


def test_the_default_range_ends_with_the_newest_data(page: Page, live: LiveServer) -> None:
    newest = max(s["last_seen"] for s in live.get("/api/v1/cameras")["sources"])
    open_page(page, live, "analytics")
    assert page.input_value("#filter-to") == newest[:10]


def test_the_source_filter_lives_in_the_url(page: Page, live: LiveServer) -> None:
    source = live.get("/api/v1/cameras")["sources"][1]["source_id"]
    open_page(page, live, "anomalies")
    page.select_option("#filter-source", source)
    page.wait_for_url(re.compile(f"source={source}"))
    wait_ready(page)
    assert page.input_value("#filter-source") == source
    nav = page.locator("#nav a", has_text="Analytics").get_attribute("href") or ""
    assert f"source={source}" in nav


def test_an_unknown_page_says_so(page: Page, live: LiveServer) -> None:
    page.goto(f"{live.url}/#/nowhere")
    message = page.locator("main .state.error")
    message.wait_for()
    assert "nowhere" in message.inner_text()
