"""Dwell, occupancy and visitor analytics over HTTP: entry/exit events posted to the service
become sessions; the figures below are computed by hand from the events."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .helpers import EVENTS, add_key, quiet_service

API = "/api/v1/analytics"
MINUTE = 60_000
DAY1, DAY2 = "2026-03-02", "2026-03-03"


def visit(person: str, camera: str, zone: str, age: str, entry: str | None,
          exit: str | None) -> list[dict[str, Any]]:
    """The entry and/or exit events of one visit (times on the given ISO day-times)."""
    found = []
    for kind, ts in (("entry", entry), ("exit", exit)):
        if ts is not None:
            found.append({"event_id": f"{person}-{camera}-{kind}-{ts}", "camera_id": camera,
                          "event_type": kind, "timestamp": ts, "subject_id": person,
                          "zone": zone, "attributes": {"age_group": age}})
    return found


# Durations of the complete visits: p1 30 min, p2 60 min, p3 10 min (day 1); p1 5 min
# (day 2). p4 only leaves (orphan exit); p5 enters last and is still inside (open).
VISITS = [
    *visit("p1", "cam1", "entrance", "25-34", f"{DAY1}T10:00:00Z", f"{DAY1}T10:30:00Z"),
    *visit("p2", "cam1", "entrance", "35-44", f"{DAY1}T10:15:00Z", f"{DAY1}T11:15:00Z"),
    *visit("p3", "cam2", "aisle", "25-34", f"{DAY1}T12:00:00Z", f"{DAY1}T12:10:00Z"),
    *visit("p4", "cam2", "aisle", "35-44", None, f"{DAY1}T13:00:00Z"),
    *visit("p1", "cam1", "entrance", "25-34", f"{DAY2}T09:00:00Z", f"{DAY2}T09:05:00Z"),
    *visit("p5", "cam1", "entrance", "45-54", f"{DAY2}T09:30:00Z", None),
]
DURATIONS = [30 * MINUTE, 60 * MINUTE, 10 * MINUTE, 5 * MINUTE]


def post(client: TestClient, items: list[dict[str, Any]]) -> None:
    response = client.post(EVENTS, json=items)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(items), response.text


def get(client: TestClient, endpoint: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{API}/{endpoint}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def visited(client: TestClient) -> TestClient:
    post(client, VISITS)
    return client


def test_kpis_overall(visited: TestClient) -> None:
    kpis = get(visited, "kpis")["kpis"]
    assert kpis["unique_visitors"] == 5
    assert kpis["cameras_with_activity"] == 2
    assert kpis["sessions"] == {"complete": 4, "open": 1, "timed_out": 0, "orphan_exit": 1}
    assert kpis["complete_sessions"] == 4 and kpis["incomplete_sessions"] == 2
    assert kpis["mean_dwell_ms"] == sum(DURATIONS) / 4  # 26.25 min
    assert kpis["median_dwell_ms"] == (10 * MINUTE + 30 * MINUTE) / 2
    assert kpis["max_dwell_ms"] == 60 * MINUTE
    assert kpis["total_dwell_ms"] == sum(DURATIONS)
    assert kpis["average_dwell_per_person_ms"] == sum(DURATIONS) / 3  # p1, p2, p3
    assert kpis["events_processed"] == len(VISITS)


def test_kpis_filtered_and_grouped(visited: TestClient) -> None:
    young = get(visited, "kpis", attr="age_group:25-34")["kpis"]
    assert young["unique_visitors"] == 2
    assert young["sessions"]["complete"] == 3
    assert young["max_dwell_ms"] == 30 * MINUTE
    assert get(visited, "kpis", attr="age_group=25-34")["kpis"] == young  # the CLI's form
    day2 = get(visited, "kpis", **{"from": f"{DAY2}T00:00:00Z"})["kpis"]
    assert day2["sessions"] == {"complete": 1, "open": 1, "timed_out": 0, "orphan_exit": 0}
    only_day1 = get(visited, "kpis", **{"from": DAY1, "to": DAY1})["kpis"]
    assert only_day1["complete_sessions"] == 3 and only_day1["unique_visitors"] == 4
    cam2 = get(visited, "kpis", camera="cam2")["kpis"]
    assert cam2["unique_visitors"] == 2 and cam2["mean_dwell_ms"] == 10 * MINUTE
    groups = get(visited, "kpis", group_by="attributes.age_group")["groups"]
    by_age = {g["attributes.age_group"]: g for g in groups}
    assert set(by_age) == {"25-34", "35-44", "45-54"}
    assert by_age["25-34"]["complete_sessions"] == 3
    assert by_age["35-44"]["sessions"]["orphan_exit"] == 1
    assert by_age["45-54"]["sessions"]["open"] == 1
    zones = get(visited, "kpis", group_by="zone")
    assert zones["filter"]["by"] == "zone"
    assert {g["zone"]: g["unique_visitors"] for g in zones["groups"]} == {"aisle": 2,
                                                                         "entrance": 3}


def test_dwell_by_camera_and_histogram(visited: TestClient) -> None:
    body = get(visited, "dwell", group_by="camera")
    assert body["total_groups"] == 2
    cam1, cam2 = body["rows"]
    assert cam1["camera"] == "cam1" and cam2["camera"] == "cam2"
    assert cam1["complete"] == 3 and cam1["open"] == 1 and cam1["persons"] == 3
    assert cam1["mean_ms"] == (30 + 60 + 5) * MINUTE / 3
    assert cam1["median_ms"] == 30 * MINUTE
    assert cam1["max_ms"] == 60 * MINUTE and cam1["total_ms"] == 95 * MINUTE
    assert cam2["complete"] == 1 and cam2["orphan_exit"] == 1 and cam2["mean_ms"] == 10 * MINUTE
    histogram = body["histogram"]
    assert histogram["edges_ms"] == [m * MINUTE for m in (0, 1, 5, 15, 30, 60, 120, 240)]
    # 5 and 10 min in [5, 15); 30 min in [30, 60); 60 min in [60, 120).
    assert histogram["counts"] == [0, 0, 2, 0, 1, 1, 0, 0]
    page = get(visited, "dwell", group_by="camera", limit=1, offset=1)
    assert [r["camera"] for r in page["rows"]] == ["cam2"] and page["total_groups"] == 2


def test_dwell_by_day(visited: TestClient) -> None:
    body = get(visited, "dwell", group_by="day")
    rows = {r["day"]: r for r in body["rows"]}
    assert set(rows) == {DAY1, DAY2}
    assert rows[DAY1]["complete"] == 3 and rows[DAY1]["orphan_exit"] == 1
    assert rows[DAY1]["mean_ms"] == (30 + 60 + 10) * MINUTE / 3
    assert rows[DAY1]["median_ms"] == 30 * MINUTE
    assert rows[DAY2]["complete"] == 1 and rows[DAY2]["open"] == 1
    assert rows[DAY2]["mean_ms"] == 5 * MINUTE
    (series,) = body["series"]
    assert series["x"] == [DAY1, DAY2] and series["complete"] == [3, 1]
    one_day = get(visited, "dwell", **{"from": DAY2, "to": DAY2})
    assert one_day["histogram"]["counts"] == [0, 0, 1, 0, 0, 0, 0, 0]


def test_occupancy_of_two_overlapping_visits(visited: TestClient) -> None:
    # cam1 on day 1: p1 10:00-10:30 and p2 10:15-11:15 overlap from 10:15 to 10:30.
    body = get(visited, "occupancy", camera="cam1", **{"from": DAY1, "to": DAY1})
    assert body["bucket"] == "hour" and body["timezone"] == "UTC"
    assert body["sessions_left_out"] == {"timed_out": 0, "orphan_exit": 0}
    (series,) = body["series"]
    assert len(series["x"]) == 24 and series["x"][10] == f"{DAY1}T10:00:00+00:00"
    assert series["max"][9:13] == [0, 2, 1, 0]
    assert series["mean"][10] == pytest.approx((30 + 45) / 60)
    assert series["mean"][11] == pytest.approx(15 / 60)
    assert sum(series["mean"]) == pytest.approx(1.5)
    quarter = get(visited, "occupancy", camera="cam1", bucket="15min",
                  **{"from": f"{DAY1}T10:00:00Z", "to": f"{DAY1}T11:00:00Z"})
    assert quarter["series"][0]["max"] == [1, 2, 1, 1]
    grouped = get(visited, "occupancy", group_by="camera", **{"from": DAY1, "to": DAY1})
    keys = [s["key"] for s in grouped["series"]]
    assert keys == [{}, {"camera": "cam1"}, {"camera": "cam2"}]
    assert grouped["series"][2]["max"][12] == 1  # p3 at cam2; p4's orphan exit left out
    assert grouped["sessions_left_out"]["orphan_exit"] == 1


def test_visitors_new_and_returning(visited: TestClient) -> None:
    body = get(visited, "visitors")
    assert body["unique_visitors"] == 5 and body["repeat_visitors"] == 1
    periods = {p["period"]: p for p in body["periods"]}
    assert periods[DAY1]["visitors"] == 4 and periods[DAY1]["new_visitors"] == 4
    assert periods[DAY1]["returning_visitors"] == 0
    assert periods[DAY2]["visitors"] == 2
    assert periods[DAY2]["new_visitors"] == 1 and periods[DAY2]["returning_visitors"] == 1
    assert {f["visit_days"]: f["persons"] for f in body["frequency"]} == {1: 4, 2: 1}
    day2 = get(visited, "visitors", **{"from": DAY2})
    assert day2["unique_visitors"] == 2 and day2["repeat_visitors"] == 0
    assert day2["periods"][0]["returning_visitors"] == 1  # p1 came first on day 1
    cameras = get(visited, "visitors", group_by="camera")
    assert cameras["groups"] == [
        {"camera": "cam1", "unique_visitors": 3, "repeat_visitors": 1},
        {"camera": "cam2", "unique_visitors": 2, "repeat_visitors": 0}]
    cam1 = [(p["period"], p["new_visitors"], p["returning_visitors"])
            for p in cameras["periods"] if p["camera"] == "cam1"]
    assert cam1 == [(DAY1, 2, 0), (DAY2, 1, 1)]
    weekly = get(visited, "visitors", period="week")
    assert [(p["period"], p["visitors"]) for p in weekly["periods"]] == [(DAY1, 5)]


def test_sessions_pages(visited: TestClient) -> None:
    first = get(visited, "sessions", limit=1)
    assert first["total"] == 6 and first["next_offset"] == 1
    (session,) = first["sessions"]
    assert session["subject_id"] == "p1" and session["status"] == "complete"
    assert session["duration_ms"] == 30 * MINUTE
    assert session["attributes"] == {"age_group": "25-34"}
    walked, offset = [], 0
    while offset is not None:
        page = get(visited, "sessions", limit=4, offset=offset)
        walked.extend(page["sessions"])
        offset = page["next_offset"]
    assert len(walked) == 6
    assert [s["status"] for s in walked].count("orphan_exit") == 1
    last = get(visited, "sessions", limit=1, offset=5)
    assert last["next_offset"] is None and last["sessions"][0]["subject_id"] == "p5"
    p1 = get(visited, "sessions", person="p1")
    assert [s["local_date"] for s in p1["sessions"]] == [DAY1, DAY2]


@pytest.fixture
def quiet(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The service with the visits stored and neither the anomaly detector nor the
    scheduled jobs committing in the background (each commit empties the cache)."""
    with quiet_service(store_url, tmp_path) as opened:
        post(opened, VISITS)
        yield opened


def test_cached_answers_follow_new_events(quiet: TestClient) -> None:
    visited = quiet
    cache = visited.app.state.vigil.cache  # type: ignore[attr-defined]
    before = get(visited, "kpis")["kpis"]
    cached = len(cache)
    assert cached == 1
    assert get(visited, "kpis")["kpis"] == before and len(cache) == cached  # a hit
    assert get(visited, "kpis", camera="cam2")["kpis"]["unique_visitors"] == 2  # own key
    post(visited, visit("p6", "cam2", "aisle", "25-34", f"{DAY2}T10:00:00Z",
                        f"{DAY2}T10:20:00Z"))
    after = get(visited, "kpis")["kpis"]
    assert after["unique_visitors"] == 6
    assert after["complete_sessions"] == 5
    assert after["max_dwell_ms"] == 60 * MINUTE
    assert after["events_processed"] == len(VISITS) + 2
    sessions = get(visited, "sessions", limit=1)
    assert sessions["total"] == 7


@pytest.mark.parametrize(
    ("endpoint", "params", "field"),
    [
        ("kpis", {"from": "yesterday"}, "from"),
        ("kpis", {"from": "2026-03-02T10:00:00"}, "from"),
        ("dwell", {"to": "2026-13-40"}, "to"),
        ("sessions", {"from": DAY2, "to": DAY1}, "to"),
        ("kpis", {"attr": "age_group"}, "attr"),
        ("visitors", {"attr": "bad name:x"}, "attr"),
        ("kpis", {"group_by": "person"}, "group_by"),
        ("dwell", {"group_by": "colour"}, "group_by"),
        ("dwell", {"group_by": ["day", "day"]}, "group_by"),
        ("occupancy", {"bucket": "2h"}, "bucket"),
        ("occupancy", {"bucket": "5min", "from": "2020-01-01", "to": "2026-03-03"},
         "bucket"),
        ("occupancy", {"timezone": "Mars/Olympus"}, "timezone"),
        ("visitors", {"period": "year"}, "period"),
        ("sessions", {"by": "floor"}, "by"),
        ("sessions", {"limit": 1001}, "limit"),
    ],
)
def test_bad_requests_name_the_field(visited: TestClient, endpoint: str,
                                     params: dict[str, Any], field: str) -> None:
    response = visited.get(f"{API}/{endpoint}", params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field and body["error"]


def test_analytics_need_a_read_key(app: FastAPI, client: TestClient) -> None:
    post(client, VISITS)
    key = add_key(app, "read")
    missing = client.get(f"{API}/kpis")
    assert missing.status_code == 401 and missing.json()["field"] == "authorization"
    for endpoint in ("kpis", "dwell", "occupancy", "visitors", "sessions"):
        response = client.get(f"{API}/{endpoint}", headers={"X-API-Key": key})
        assert response.status_code == 200, (endpoint, response.text)
    assert client.get(f"{API}/kpis", headers={"X-API-Key": key}).json()["kpis"][
        "unique_visitors"] == 5
