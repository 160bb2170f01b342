"""The anomalies page against a live server: the filtered list equals the API's, filters live
in the URL, the actions change an anomaly through the API, and Load more pages on."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from .conftest import Console, open_page, wait_ready
from .live import LiveServer, create_key, run_vigil, start_server

ALL = 1000
STATUSES = ("open", "acknowledged", "false_positive")
ROWS = "#anomalies-table tbody tr"


def local_bounds(first: str, last: str, zone: str) -> tuple[dt.datetime, dt.datetime]:
    """The instants of ``first`` 00:00 and the day after ``last`` 00:00 in ``zone``."""
    tz = ZoneInfo(zone)
    start = dt.datetime.combine(dt.date.fromisoformat(first), dt.time(), tz)
    end = dt.datetime.combine(dt.date.fromisoformat(last) + dt.timedelta(days=1), dt.time(), tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


def api_list(live: LiveServer, first: str, last: str, source: str | None = None,
             **filters: str) -> list[dict[str, Any]]:
    """The anomalies of the period (each source's local days), newest first, from the API:
    one request per source, so every source's own zone bounds its period."""
    zones = {s["source_id"]: s["timezone"] for s in live.get("/api/v1/cameras")["sources"]}
    found: list[dict[str, Any]] = []
    for source_id in [source] if source else sorted(zones):
        start, end = local_bounds(first, last, zones[source_id])
        query = {"source_id": source_id, "start": start.isoformat(), "end": end.isoformat(),
                 "limit": str(ALL), **filters}
        answer = live.get("/api/v1/anomalies?" + urllib.parse.urlencode(query))
        assert answer["next_before_id"] is None, "the test expects one page per source"
        found += answer["anomalies"]
    return sorted(found, key=lambda a: -a["anomaly_id"])


def shown_ids(page: Page) -> list[int]:
    ids = page.locator(ROWS).evaluate_all("rs => rs.map(r => r.dataset.anomalyId)")
    return [int(i) for i in ids]


def ids(anomalies: list[dict[str, Any]]) -> list[int]:
    return [a["anomaly_id"] for a in anomalies]


def status_counts(anomalies: list[dict[str, Any]]) -> dict[str, int]:
    """How many of ``anomalies`` there are per status, and in all."""
    counts = {s: sum(a["status"] == s for a in anomalies) for s in STATUSES}
    return {**counts, "all": len(anomalies)}


def shown_counts(page: Page) -> dict[str, int]:
    """The numbers of the status tiles."""
    return {s: int(page.inner_text(f"#anomaly-counts [data-status={s}] .value")
                   .replace(",", "")) for s in (*STATUSES, "all")}


@pytest.fixture(scope="module")
def period(live: LiveServer) -> tuple[str, str]:
    """Every day of the generated data (local dates)."""
    sources = live.get("/api/v1/cameras")["sources"]
    first = min(s["first_seen"] for s in sources)[:10]
    last = max(s["last_seen"] for s in sources)[:10]
    return first, last


@pytest.fixture(scope="module")
def busiest(live: LiveServer) -> str:
    """The source with the most anomalies."""
    listed = live.get(f"/api/v1/anomalies?limit={ALL}")["anomalies"]
    counts: dict[str, int] = {}
    for anomaly in listed:
        counts[anomaly["source_id"]] = counts.get(anomaly["source_id"], 0) + 1
    return max(counts, key=lambda s: (counts[s], s))


def test_the_rows_of_one_source_equal_the_api_list(
        page: Page, live: LiveServer, period: tuple[str, str], busiest: str) -> None:
    first, last = period
    open_page(page, live, f"anomalies?source={busiest}&from={first}&to={last}&limit={ALL}")
    expected = api_list(live, first, last, busiest)
    assert expected, "the generated data has anomalies at this source"
    assert shown_ids(page) == ids(expected)
    zone = next(s["timezone"] for s in live.get("/api/v1/cameras")["sources"]
                if s["source_id"] == busiest)
    anomaly = expected[0]
    row = page.locator(f"{ROWS}[data-anomaly-id='{anomaly['anomaly_id']}']")
    start = dt.datetime.fromisoformat(anomaly["window_start"]).astimezone(ZoneInfo(zone))
    when = row.locator("td.when").inner_text()
    assert when.startswith(start.strftime("%Y-%m-%d %H:%M")) and zone in when
    assert row.locator(".explanation").inner_text() == anomaly["explanation"]
    assert row.locator(f".badge.{anomaly['severity']}").inner_text() == anomaly["severity"]
    assert row.locator("td.score").inner_text() == f"{anomaly['score']:.2f}"
    assert row.locator(f"a[href='#/camera/{busiest}']").count() == 1
    assert shown_counts(page) == status_counts(expected)  # this source, this period
    assert f"of this period at {busiest}" in page.inner_text("#anomaly-counts-caption")


def test_all_sources_show_each_source_in_its_own_local_days(
        page: Page, live: LiveServer, period: tuple[str, str]) -> None:
    first, last = period
    days = sorted({a["local_date"] for a in api_list(live, first, last)})
    mid_first, mid_last = days[len(days) // 3], days[2 * len(days) // 3]
    open_page(page, live, f"anomalies?from={mid_first}&to={mid_last}&limit={ALL}")
    expected = api_list(live, mid_first, mid_last)
    assert expected
    assert shown_ids(page) == ids(expected)
    assert shown_counts(page) == status_counts(expected)  # each source in its own days
    bars = page.locator("#anomaly-chart .mark.bar")
    total = sum(float(v) for v in bars.evaluate_all("bs => bs.map(b => b.dataset.value)"))
    in_days = [a for a in expected if mid_first <= a["local_date"] <= mid_last]
    assert total == len(in_days)


def test_choosing_filters_puts_them_in_the_url_and_back_restores_them(
        page: Page, live: LiveServer, period: tuple[str, str]) -> None:
    first, last = period
    open_page(page, live, f"anomalies?from={first}&to={last}&limit={ALL}")
    everything = api_list(live, first, last)
    assert shown_ids(page) == ids(everything)
    kind = max({a["type"] for a in everything},
               key=lambda t: sum(a["type"] == t for a in everything))
    page.select_option("#filter-type", kind)
    page.wait_for_url(re.compile(f"type={kind}"))
    wait_ready(page)
    by_type = api_list(live, first, last, type=kind)
    assert shown_ids(page) == ids(by_type) != ids(everything)
    assert shown_counts(page) == status_counts(by_type)
    page.select_option("#filter-severity", "medium")
    page.wait_for_url(re.compile("severity=medium"))
    wait_ready(page)
    assert shown_ids(page) == ids(api_list(live, first, last, type=kind, severity="medium"))
    page.go_back()
    page.wait_for_url(lambda url: "severity" not in url and f"type={kind}" in url)
    wait_ready(page)
    assert page.input_value("#filter-type") == kind
    assert page.input_value("#filter-severity") == ""
    assert shown_ids(page) == ids(api_list(live, first, last, type=kind))
    page.select_option("#filter-status", "open")
    page.wait_for_url(re.compile("status=open"))
    wait_ready(page)
    assert shown_ids(page) == ids(api_list(live, first, last, type=kind, status="open"))
    assert shown_counts(page) == status_counts(api_list(live, first, last, type=kind))


def test_a_shared_url_with_filters_shows_the_filtered_list(
        page: Page, live: LiveServer, period: tuple[str, str], busiest: str) -> None:
    first, last = period
    open_page(page, live, f"anomalies?source={busiest}&from={first}&to={last}&type=rare_time"
              f"&severity=low&status=open&limit={ALL}")
    assert page.input_value("#filter-source") == busiest
    assert page.input_value("#filter-type") == "rare_time"
    assert page.input_value("#filter-severity") == "low"
    assert page.input_value("#filter-status") == "open"
    expected = api_list(live, first, last, busiest, type="rare_time", severity="low",
                        status="open")
    assert expected
    assert shown_ids(page) == ids(expected)
    types = page.locator(ROWS).evaluate_all("rs => rs.map(r => r.dataset.type)")
    assert set(types) == {"rare_time"}


def test_acknowledging_from_the_list_changes_the_status_through_the_api(
        page: Page, live: LiveServer, period: tuple[str, str], busiest: str) -> None:
    first, last = period
    open_page(page, live, f"anomalies?source={busiest}&from={first}&to={last}&status=open"
              f"&limit={ALL}")
    chosen = api_list(live, first, last, busiest, status="open")[-1]["anomaly_id"]
    open_before = int(page.inner_text("#anomaly-counts [data-status=open] .value")
                      .replace(",", ""))
    row = page.locator(f"{ROWS}[data-anomaly-id='{chosen}']")
    row.locator("button[data-action=ack]").click()
    expect(row).to_have_attribute("data-status", "acknowledged")
    assert live.get(f"/api/v1/anomalies/{chosen}")["status"] == "acknowledged"
    assert row.locator(".badge.status").inner_text() == "acknowledged"
    assert row.locator("button[data-action=ack]").count() == 0
    expect(page.locator("#anomaly-counts [data-status=open] .value")).to_have_text(
        f"{open_before - 1:,}")
    row.locator("button[data-action=reopen]").click()
    expect(row).to_have_attribute("data-status", "open")
    assert live.get(f"/api/v1/anomalies/{chosen}")["status"] == "open"


def test_load_more_appends_the_next_page(
        page: Page, live: LiveServer, period: tuple[str, str]) -> None:
    first, last = period
    size = 5
    open_page(page, live, f"anomalies?from={first}&to={last}&limit={size}")
    expected = ids(api_list(live, first, last))
    assert len(expected) > 2 * size
    assert shown_ids(page) == expected[:size]
    page.click("#load-more")
    expect(page.locator(ROWS)).to_have_count(2 * size)
    assert shown_ids(page) == expected[:2 * size]
    assert page.locator("#load-more").is_visible()


def test_an_empty_period_says_what_to_do(
        page: Page, live: LiveServer, period: tuple[str, str]) -> None:
    first, _ = period
    earliest = min(a["local_date"] for a in api_list(live, *period))
    last = (dt.date.fromisoformat(earliest) - dt.timedelta(days=1)).isoformat()
    assert api_list(live, first, last) == []
    open_page(page, live, f"anomalies?from={first}&to={last}")
    message = page.inner_text("#anomaly-list .state.empty")
    assert f"No anomalies from {first} to {last}" in message
    assert "longer period" in message
    open_page(page, live, f"anomalies?from={first}&to={last}&type=spike")
    assert "No anomalies match these filters" in page.inner_text("#anomaly-list .state.empty")
    page.click("#anomaly-list .state.empty button")
    page.wait_for_url(lambda url: "type=" not in url)
    wait_ready(page)
    assert page.input_value("#filter-type") == ""


def test_an_unknown_filter_in_the_url_is_named(page: Page, live: LiveServer) -> None:
    open_page(page, live, "anomalies?type=meteor")
    error = page.inner_text("#anomaly-list .state.error")
    assert 'unknown type "meteor"' in error and "rare_time" in error


@pytest.fixture(scope="module")
def read_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """A small server with anomalies and one read key."""
    workdir = tmp_path_factory.mktemp("read-only")
    run_vigil("generate", workdir / "data", "--days", "8", "--rows", "3000", "--anomalies",
              "novel_object,spike", "--anomaly-warmup-days", "6")
    db = workdir / "vigil.duckdb"
    run_vigil("ingest", workdir / "data" / "events.csv", "--db", db)
    key = create_key(db, "read")
    server = start_server(db, workdir)
    yield server, key
    server.stop()


def test_a_read_key_is_told_that_acknowledging_needs_the_ingest_scope(
        page: Page, console: Console, read_only: tuple[LiveServer, str]) -> None:
    server, key = read_only
    console.allow(r"status of 403")
    listed = server.get(f"/api/v1/anomalies?limit={ALL}", key=key)["anomalies"]
    assert listed
    days = sorted(a["local_date"] for a in listed)
    page.add_init_script(f"sessionStorage.setItem('vigil.apiKey', {key!r})")
    open_page(page, server, f"anomalies?from={days[0]}&to={days[-1]}&limit={ALL}")
    chosen = shown_ids(page)[0]
    row = page.locator(f"{ROWS}[data-anomaly-id='{chosen}']")
    row.locator("button[data-action=ack]").click()
    message = row.locator(".action-message")
    expect(message).to_contain_text("ingest")
    assert "scope is needed" in message.inner_text()
    assert row.get_attribute("data-status") == "open"
    assert server.get(f"/api/v1/anomalies/{chosen}", key=key)["status"] == "open"
    assert page.locator("#key-dialog[open]").count() == 0

