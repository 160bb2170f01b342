"""The Analytics page against the live server: every figure drawn is the API's."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page

from .conftest import Console, open_page, wait_ready
from .live import LiveServer

MAX_ATTRIBUTE_VALUES = 50  # more distinct values: not offered as a grouping


def shown_range(page: Page) -> tuple[str, str]:
    """The range the filter bar shows (the page's default when the URL has none)."""
    return (page.locator("#filter-from").input_value(),
            page.locator("#filter-to").input_value())


def analytics(live: LiveServer, endpoint: str, **params: Any) -> Any:
    return live.get(f"/api/v1/analytics/{endpoint}?{urlencode(params, doseq=True)}")


def values(page: Page, selector: str) -> list[float]:
    return [float(v) for v in page.locator(selector).evaluate_all(
        "marks => marks.map(m => m.dataset.value)")]


def tile(page: Page, key: str) -> tuple[str, str]:
    found = page.locator(f'#kpi-tiles .tile[data-kpi="{key}"]')
    return found.get_attribute("data-value") or "", found.locator(".value").inner_text()


def test_kpis_charts_and_repeat_share_are_the_apis(page: Page, live: LiveServer) -> None:
    open_page(page, live, "analytics")
    start, end = shown_range(page)
    kpis = analytics(live, "kpis", **{"from": start, "to": end})["kpis"]
    assert kpis["complete_sessions"] > 0
    for key in ("unique_visitors", "complete_sessions", "incomplete_sessions",
                "events_processed"):
        assert tile(page, key) == (str(kpis[key]), f"{kpis[key]:,}")
    assert float(tile(page, "mean_dwell_ms")[0]) == pytest.approx(kpis["mean_dwell_ms"])

    visitors = analytics(live, "visitors", **{"from": start, "to": end})
    share = visitors["repeat_visitors"] / visitors["unique_visitors"]
    raw, text = tile(page, "repeat_share")
    assert float(raw) == pytest.approx(share)
    assert text == f"{share * 100:.1f} %".replace(".0 %", " %")

    histogram = analytics(live, "dwell", **{"from": start, "to": end})["histogram"]
    assert len(histogram["counts"]) == len(histogram["edges_ms"])
    assert values(page, "#dwell-chart .mark.bar") == histogram["counts"]

    chart = page.locator("#occupancy-chart")
    occupancy = analytics(live, "occupancy", bucket=chart.get_attribute("data-bucket"),
                          **{"from": start, "to": end})
    assert chart.get_attribute("data-timezone") == occupancy["timezone"]
    overall = next(s for s in occupancy["series"] if not s["key"])
    points = values(page, "#occupancy-chart .mark.point")
    assert len(points) == 2 * len(overall["x"])  # peak and mean, one point per bucket each
    assert points[:len(overall["x"])] == overall["max"]

    periods = visitors["periods"]
    bars = values(page, "#visitors-chart .mark.bar")
    assert len(bars) == 2 * len(periods)
    assert bars[0::2] == [p["new_visitors"] for p in periods]
    assert bars[1::2] == [p["returning_visitors"] for p in periods]


def test_group_by_is_in_the_url_and_the_back_button_restores_it(page: Page,
                                                                live: LiveServer) -> None:
    open_page(page, live, "analytics")
    start, end = shown_range(page)
    assert page.locator("#groups-table").count() == 0
    options = page.locator("#group-by option").evaluate_all("o => o.map(x => x.value)")
    attributes = [o for o in options if o.startswith("attributes.")]
    listed = analytics(live, "attributes", **{"from": start, "to": end})["attributes"]
    offered = [a for a in listed if a["distinct"] <= MAX_ATTRIBUTE_VALUES]
    assert attributes and attributes == [f"attributes.{a['name']}" for a in offered]
    distinct = offered[0]["distinct"]
    label = page.locator(f'#group-by option[value="{attributes[0]}"]').inner_text()
    assert label.endswith(f"({distinct:,} value{'' if distinct == 1 else 's'})")

    def groups_of(dimension: str) -> set[str]:
        answer = analytics(live, "kpis", group_by=dimension, **{"from": start, "to": end})
        return {"(none)" if g[dimension] in (None, "") else str(g[dimension])
                for g in answer["groups"]}

    def shown_groups(dimension: str) -> set[str]:
        page.wait_for_selector(f'#groups-table[data-group-by="{dimension}"]')
        wait_ready(page)
        return set(page.locator("#groups-table tbody tr").evaluate_all(
            "rows => rows.map(r => r.dataset.group)"))

    page.select_option("#group-by", "camera")
    cameras = shown_groups("camera")
    assert "group_by=camera" in page.url
    assert cameras == groups_of("camera")
    occupancy_lines = page.locator("#occupancy-chart path.line").count()
    assert occupancy_lines == min(8, len(cameras) + 1)  # "all" and one per camera

    page.select_option("#group-by", attributes[0])
    by_attribute = shown_groups(attributes[0])
    assert by_attribute == groups_of(attributes[0]) != cameras
    assert len(by_attribute - {"(none)"}) == distinct  # the number the option showed

    page.go_back()
    assert shown_groups("camera") == cameras
    page.go_back()
    page.wait_for_selector("#groups-hint")
    wait_ready(page)
    assert page.locator("#groups-table").count() == 0


def test_bucket_and_period_are_page_filters(page: Page, live: LiveServer) -> None:
    open_page(page, live, "analytics")
    start, end = shown_range(page)
    page.select_option("#occupancy-bucket", "day")
    page.wait_for_selector('#occupancy-chart[data-bucket="day"]')
    wait_ready(page)
    assert "bucket=day" in page.url
    days = analytics(live, "occupancy", bucket="day", **{"from": start, "to": end})
    assert len(values(page, "#occupancy-chart .mark.point")) == 2 * len(days["series"][0]["x"])
    page.select_option("#visitors-period", "week")
    page.wait_for_function("location.hash.includes('period=week')")
    page.wait_for_selector("#visitors-period option[value=week][selected]", state="attached")
    wait_ready(page)
    weeks = analytics(live, "visitors", period="week", **{"from": start, "to": end})
    assert len(values(page, "#visitors-chart .mark.bar")) == 2 * len(weeks["periods"])


def test_no_visits_says_which_events_are_needed(page: Page, live: LiveServer) -> None:
    assert analytics(live, "kpis", **{"from": "2020-01-01", "to": "2020-01-07"}
                     )["kpis"]["complete_sessions"] == 0
    open_page(page, live, "analytics?from=2020-01-01&to=2020-01-07")
    state = page.locator("#analytics-empty .state.empty")
    assert "entry" in state.inner_text() and "vigil ingest" in state.inner_text()
    assert state.locator('a[href="#/uploads"]').count() == 1
    assert page.locator("#kpi-tiles").count() == 0


def test_unknown_grouping_is_an_error_not_a_blank(page: Page, live: LiveServer,
                                                  console: Console) -> None:
    console.allow(r"status of 422")
    open_page(page, live, "analytics?group_by=shoe_size")
    error = page.locator("#groups .state.error")
    assert "group_by" in error.inner_text()
    assert page.locator("#kpi-tiles .tile").count() > 0  # the rest still loads
