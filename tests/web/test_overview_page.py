"""The overview page against a live server: sources, today against expected, health."""

from __future__ import annotations

from playwright.sync_api import Page

from .conftest import open_page
from .live import LiveServer


def test_overview_lists_every_source_with_its_numbers(page: Page, live: LiveServer) -> None:
    open_page(page, live, "overview")
    sources = live.get("/api/v1/cameras")["sources"]
    rows = page.locator("#sources-table tbody tr")
    assert rows.count() == len(sources)
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.source)")) == sorted(
        s["source_id"] for s in sources)
    source = sources[0]["source_id"]
    today = {s["source_id"]: s for s in live.get("/api/v1/activity")["sources"]}[source]
    own = live.get(f"/api/v1/cameras/{source}/activity?bucket=day")["points"][-1]
    assert (today["count"], today["expected"]) == (own["count"], own["expected"])
    row = page.locator(f"#sources-table tr[data-source='{source}'] td")
    assert row.nth(2).inner_text() == f"{today['count']:,}"
    expected = row.nth(3).inner_text()
    assert expected == "learning" if today["expected"] is None else expected.startswith(
        f"{today['expected']:,.1f}".rstrip("0").rstrip("."))


def test_overview_counts_open_anomalies_per_source(page: Page, live: LiveServer) -> None:
    open_page(page, live, "overview")
    listed = live.get("/api/v1/anomalies?status=open&limit=1000")["anomalies"]
    assert listed, "the generated data has injected anomalies"
    per_source: dict[str, int] = {}
    for anomaly in listed:
        per_source[anomaly["source_id"]] = per_source.get(anomaly["source_id"], 0) + 1
    for source, count in per_source.items():
        cell = page.locator(f"#sources-table tr[data-source='{source}'] td").nth(4)
        assert cell.inner_text() == str(count)
    tile = page.locator("#overview-tiles .tile").nth(2)
    assert tile.locator(".value").inner_text() == str(len(listed))


def test_overview_shows_system_health_and_jobs(page: Page, live: LiveServer) -> None:
    open_page(page, live, "overview")
    status = live.get("/api/v1/status")
    jobs = page.locator("#jobs-table tbody tr")
    assert jobs.count() == len(status["jobs"]["jobs"])
    names = jobs.evaluate_all("rs => rs.map(r => r.cells[0].textContent)")
    assert names == [job["name"] for job in status["jobs"]["jobs"]]
    assert page.locator("#health-tiles .tile").count() >= 7
    assert "rejected rows" in page.locator("#health-tiles").inner_text()


def test_a_source_links_to_its_camera_page(page: Page, live: LiveServer) -> None:
    open_page(page, live, "overview")
    first = page.locator("#sources-table tbody tr").first
    source = first.get_attribute("data-source")
    first.locator("a").first.click()
    page.wait_for_url(f"**/#/camera/{source}")
