"""The per-camera page: baseline heatmap, object mix, events over time with the expected
band and the anomalies on it, acting on anomalies, and the range kept in the URL."""

from __future__ import annotations

import datetime as dt
import json
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, Route

from .conftest import Console, open_page
from .live import LiveServer, start_server

RANGE_DAYS = 14


def query(path: str, **params: Any) -> str:
    return f"{path}?{urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})}"


def local_midnight(day: dt.date, zone: str) -> dt.datetime:
    """The instant local ``day`` begins in ``zone``, in UTC."""
    return dt.datetime.combine(day, dt.time(), ZoneInfo(zone)).astimezone(dt.UTC)


def iso(instant: dt.datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def sources(live: LiveServer) -> dict[str, dict[str, Any]]:
    return {s["source_id"]: s for s in live.get("/api/v1/cameras")["sources"]}


def busiest_source(live: LiveServer) -> str:
    """The source with the most anomalies (so the timeline has markers to check)."""
    found = live.get("/api/v1/anomalies?limit=1000")["anomalies"]
    counts: dict[str, int] = {}
    for anomaly in found:
        counts[anomaly["source_id"]] = counts.get(anomaly["source_id"], 0) + 1
    return max(counts, key=lambda name: (counts[name], name))


def last_days(live: LiveServer, source_id: str, days: int) -> tuple[dt.date, dt.date]:
    """The ``days`` local days ending on the source's last day with events."""
    source = sources(live)[source_id]
    last_seen = dt.datetime.fromisoformat(source["last_seen"].replace("Z", "+00:00"))
    last = last_seen.astimezone(ZoneInfo(source["timezone"])).date()
    return last - dt.timedelta(days=days - 1), last


def range_anomalies(live: LiveServer, source_id: str, first: dt.date, last: dt.date
                    ) -> list[dict[str, Any]]:
    zone = sources(live)[source_id]["timezone"]
    start = local_midnight(first, zone)
    end = local_midnight(last + dt.timedelta(days=1), zone)
    found: list[dict[str, Any]] = live.get(query("/api/v1/anomalies", source_id=source_id,
                                                 start=iso(start), end=iso(end),
                                                 limit=1000))["anomalies"]
    return found


def activity(live: LiveServer, source_id: str, first: dt.date, last: dt.date) -> Any:
    bucket = "hour" if (last - first).days + 1 <= 3 else "day"
    return live.get(query(f"/api/v1/cameras/{source_id}/activity", bucket=bucket, weeks=4,
                          **{"from": first.isoformat(), "to": last.isoformat()}))


def baseline(live: LiveServer, source_id: str, last: dt.date) -> Any:
    zone = sources(live)[source_id]["timezone"]
    as_of = local_midnight(last + dt.timedelta(days=1), zone) - dt.timedelta(seconds=1)
    return live.get(query(f"/api/v1/context/patterns/{source_id}", as_of=iso(as_of)))


def route(source_id: str, first: dt.date, last: dt.date) -> str:
    return f"camera/{source_id}?from={first.isoformat()}&to={last.isoformat()}"


def values(page: Page, selector: str, attribute: str = "data-value") -> list[str]:
    found: list[str] = page.eval_on_selector_all(
        selector, f"marks => marks.map((m) => m.getAttribute('{attribute}'))")
    return found


def rerender(page: Page, action: Callable[[], None]) -> None:
    """Do ``action`` (which changes the route) and wait for the new page to be ready."""
    page.evaluate("document.querySelector('main .page').dataset.stale = 'yes'")
    action()
    page.wait_for_selector("main .page[data-ready=true]:not([data-stale])")


@pytest.fixture(scope="module")
def camera(live: LiveServer) -> tuple[str, dt.date, dt.date]:
    source_id = busiest_source(live)
    first, last = last_days(live, source_id, RANGE_DAYS)
    return source_id, first, last


def test_heatmap_and_summary_follow_the_baseline(page: Page, live: LiveServer,
                                                  camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, first, last = camera
    open_page(page, live, route(source_id, first, last))
    expected = baseline(live, source_id, last)
    matrix = expected["hour_weekday_matrix"]
    assert len(matrix) == 7 and all(len(row) == 24 for row in matrix)
    assert page.locator("#heatmap .cell").count() == 7 * 24
    shown = [float(v) for v in values(page, "#heatmap .cell")]
    assert shown == [float(v) for row in matrix for v in row]
    window = page.locator("#baseline-window").inner_text()
    assert expected["window"]["start"] in window and expected["window"]["end"] in window
    assert f"{expected['window']['weeks']} weeks" in window
    assert sources(live)[source_id]["timezone"] in page.locator("#heatmap").inner_text()
    assert page.locator("#camera-zone").inner_text() == expected["timezone"]
    assert page.locator("#tile-dominant .value").inner_text() == expected["dominant_object_type"]


def test_object_mix_has_a_bar_per_label_and_series(page: Page, live: LiveServer,
                                                   camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, first, last = camera
    open_page(page, live, route(source_id, first, last))
    labels = activity(live, source_id, first, last)["labels"]
    usual = baseline(live, source_id, last)["object_type_distribution"]
    union = set(labels) | set(usual)
    assert labels, "the range has labelled events"
    assert page.locator("#object-mix .bar").count() == 2 * len(union)
    counts = values(page, "#object-mix .bar[data-series=range]", "data-count")
    assert sorted(map(float, counts), reverse=True) == sorted(
        [float(labels.get(name, 0)) for name in union], reverse=True)
    shares = [float(v) for v in values(page, "#object-mix .bar[data-series=range]")]
    assert sum(shares) == pytest.approx(1.0)


def test_timeline_has_a_point_per_bucket_a_band_and_the_anomalies(
        page: Page, live: LiveServer, camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, first, last = camera
    open_page(page, live, route(source_id, first, last))
    points = activity(live, source_id, first, last)["points"]
    assert len(points) == RANGE_DAYS
    assert [float(v) for v in values(page, "#timeline .point")] == [
        float(p["count"]) for p in points]
    assert page.locator("#timeline .band").count() == 1
    anomalies = range_anomalies(live, source_id, first, last)
    assert anomalies, "the range has anomalies"
    markers = values(page, "#timeline .marker", "data-anomaly")
    assert sorted(map(int, markers)) == sorted(a["anomaly_id"] for a in anomalies)
    rows = values(page, "#camera-anomalies tr[data-anomaly-id]", "data-anomaly-id")
    assert sorted(map(int, rows)) == sorted(a["anomaly_id"] for a in anomalies)
    one = anomalies[0]
    title = page.locator(f"#timeline .marker[data-anomaly='{one['anomaly_id']}'] title")
    assert one["explanation"] in title.text_content()
    row = page.locator(f"#anomaly-{one['anomaly_id']}")
    assert one["explanation"] in row.inner_text()
    assert row.locator("[data-role=severity]").inner_text() == one["severity"]


def test_a_short_range_is_drawn_per_hour(page: Page, live: LiveServer,
                                         camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, _, last = camera
    first = last - dt.timedelta(days=1)
    open_page(page, live, route(source_id, first, last))
    points = activity(live, source_id, first, last)["points"]
    assert len(points) in (47, 48, 49)  # two local days, a DST change included
    assert page.locator("#timeline .point").count() == len(points)
    assert "per local hour" in page.locator("#timeline h2").inner_text()


def open_anomaly(live: LiveServer, source_id: str, first: dt.date, last: dt.date,
                 rank: int = 0) -> dict[str, Any]:
    """The ``rank``-th oldest open anomaly of the range."""
    candidates = [a for a in range_anomalies(live, source_id, first, last)
                  if a["status"] == "open"]
    assert len(candidates) > rank, "enough open anomalies in the range"
    return candidates[-1 - rank]


@pytest.mark.parametrize(("action", "status", "rank"), [("ack", "acknowledged", 0),
                                                        ("false-positive", "false_positive", 1)])
def test_acting_on_an_anomaly_changes_its_status(page: Page, live: LiveServer,
                                                 camera: tuple[str, dt.date, dt.date],
                                                 action: str, status: str, rank: int) -> None:
    source_id, first, last = camera
    open_page(page, live, route(source_id, first, last))
    anomaly = open_anomaly(live, source_id, first, last, rank)
    number = anomaly["anomaly_id"]
    row = page.locator(f"#anomaly-{number}")
    row.locator(f"button[data-action={action}]").click()
    page.wait_for_selector(f"#anomaly-{number}[data-status={status}]")
    assert live.get(f"/api/v1/anomalies/{number}")["status"] == status
    assert row.locator("[data-role=status]").inner_text() == status.replace("_", " ")
    marker = page.locator(f"#timeline .marker[data-anomaly='{number}']")
    assert marker.get_attribute("fill-opacity") == "0.35"
    row.locator("button[data-action=reopen]").click()
    page.wait_for_selector(f"#anomaly-{number}[data-status=open]")
    assert live.get(f"/api/v1/anomalies/{number}")["status"] == "open"


def test_a_read_only_key_gets_a_clear_message(page: Page, live: LiveServer, console: Console,
                                              camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, first, last = camera
    console.allow(r"403")
    open_page(page, live, route(source_id, first, last))
    anomaly = open_anomaly(live, source_id, first, last)

    def forbid(answer: Route) -> None:
        answer.fulfill(status=403, content_type="application/json", body=json.dumps(
            {"error": {"message": "this key lacks the ingest scope", "field": "authorization"}}))

    page.route("**/api/v1/anomalies/*/ack", forbid)
    row = page.locator(f"#anomaly-{anomaly['anomaly_id']}")
    row.locator("button[data-action=ack]").click()
    message = row.locator("[data-role=action-error]")
    message.wait_for()
    assert "ingest" in message.inner_text() and "key" in message.inner_text()
    assert row.get_attribute("data-status") == "open"
    assert row.locator("button[data-action=ack]").is_enabled()
    assert live.get(f"/api/v1/anomalies/{anomaly['anomaly_id']}")["status"] == "open"


def test_the_range_in_the_url_drives_the_page_and_back_restores_it(
        page: Page, live: LiveServer, camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, _, last = camera
    first = last - dt.timedelta(days=6)
    asked: list[dict[str, list[str]]] = []
    page.on("request", lambda r: asked.append(urllib.parse.parse_qs(
        urllib.parse.urlsplit(r.url).query)) if "/activity" in r.url else None)
    open_page(page, live, route(source_id, first, last))
    assert page.locator("#timeline .point").count() == 7
    assert asked[-1]["from"] == [first.isoformat()] and asked[-1]["to"] == [last.isoformat()]

    rerender(page, lambda: page.click("button.chip[data-days='28']"))
    longer = last - dt.timedelta(days=27)
    assert f"from={longer.isoformat()}" in page.url
    assert asked[-1]["from"] == [longer.isoformat()]
    assert page.locator("#timeline .point").count() == len(
        activity(live, source_id, longer, last)["points"]) == 28

    rerender(page, page.go_back)
    assert f"from={first.isoformat()}" in page.url
    assert page.locator("#timeline .point").count() == 7
    assert page.locator("#filter-from").input_value() == first.isoformat()


def test_the_baseline_window_can_be_changed(page: Page, live: LiveServer,
                                            camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, first, last = camera
    open_page(page, live, route(source_id, first, last))
    rerender(page, lambda: page.select_option("#baseline-weeks", "4"))
    assert "weeks=4" in page.url
    window = page.locator("#baseline-window").inner_text()
    assert "4 weeks" in window
    assert (last - dt.timedelta(days=27)).isoformat() in window


def test_a_range_before_the_data_says_what_to_do(page: Page, live: LiveServer,
                                                 camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, first, _ = camera
    early = first - dt.timedelta(days=400)
    open_page(page, live, route(source_id, early, early + dt.timedelta(days=6)))
    assert "Pick another range" in page.locator("#timeline .state.empty").inner_text()
    assert page.locator("#heatmap .state.empty").count() == 1
    assert page.locator("#camera-anomalies .state.empty").count() == 1
    assert page.locator("#timeline .point").count() == 0
    rerender(page, lambda: page.click("#latest-range"))
    first, last = last_days(live, source_id, RANGE_DAYS)
    assert f"from={first.isoformat()}&to={last.isoformat()}" in page.url
    assert page.locator("#timeline .point").count() == RANGE_DAYS


def test_without_a_camera_the_page_lists_them(page: Page, live: LiveServer) -> None:
    open_page(page, live, "camera")
    names = sorted(sources(live))
    links = page.locator("#source-list a")
    assert sorted(links.all_inner_texts()) == names
    chosen = links.first.inner_text()
    rerender(page, links.first.click)
    assert page.locator("#camera-name").inner_text() == chosen
    assert page.locator("#timeline .point").count() > 0


def test_an_unknown_camera_is_a_clear_error(page: Page, live: LiveServer) -> None:
    open_page(page, live, "camera/no-such-camera")
    error = page.locator("#unknown-source")
    assert "no-such-camera" in error.inner_text()
    assert error.locator("a[href='#/overview']").count() == 1


def test_no_cameras_at_all_is_an_empty_state(page: Page, tmp_path: Path) -> None:
    server = start_server(tmp_path / "empty.duckdb", tmp_path)
    try:
        open_page(page, server, "camera")
        state = page.locator("#no-sources")
        assert "vigil ingest" in state.inner_text()
        assert page.locator("#source-list").count() == 0
    finally:
        server.stop()


def test_the_page_loads_without_errors(page: Page, live: LiveServer,
                                       camera: tuple[str, dt.date, dt.date]) -> None:
    source_id, first, last = camera
    open_page(page, live, route(source_id, first, last))
    for card in ("timeline", "camera-anomalies", "heatmap", "object-mix"):
        assert page.locator(f"#{card} .state.error").count() == 0
        assert page.locator(f"#{card} .state.loading").count() == 0
