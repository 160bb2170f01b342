"""``GET /api/v1/cameras/{source_id}/activity`` on a real store."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from .helpers import EVENTS, event

BERLIN = ZoneInfo("Europe/Berlin")


def activity(client: TestClient, source: str, path: str = "cameras",
             **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/{path}/{source}/activity", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def berlin_camera(client: TestClient, name: str) -> None:
    response = client.put(f"/api/v1/cameras/{name}", json={"timezone": "Europe/Berlin"})
    assert response.status_code == 200, response.text


def post(client: TestClient, events: list[dict[str, Any]]) -> None:
    response = client.post(EVENTS, json=events)
    assert response.status_code in (200, 202), response.text
    assert response.json()["accepted"] == len(events), response.text


def test_default_range_is_the_last_14_local_days(client: TestClient) -> None:
    berlin_camera(client, "porch")
    before = dt.datetime.now(dt.UTC)
    post(client, [event("porch", ts=before.strftime("%Y-%m-%dT%H:%M:%SZ"))])
    body = activity(client, "porch")
    after = dt.datetime.now(dt.UTC)
    today = {moment.astimezone(BERLIN).date().isoformat() for moment in (before, after)}
    assert body["to"] in today
    last = dt.date.fromisoformat(body["to"])
    assert body["from"] == (last - dt.timedelta(days=13)).isoformat()
    assert (body["source_id"], body["timezone"], body["bucket"], body["weeks"]) == (
        "porch", "Europe/Berlin", "day", 4)
    assert [p["start"] for p in body["points"]] == [
        (last - dt.timedelta(days=13 - i)).isoformat() for i in range(14)]
    assert body["total"] == 1 and body["points"][-1]["count"] == 1
    assert body["labels"] == {"person": 1}
    first = body["points"][0]
    assert first["weeks_seen"] == 0 and first["expected"] is None  # before the source existed
    midnight = dt.datetime.combine(dt.date.fromisoformat(first["start"]), dt.time(), BERLIN)
    assert first["utc"] == midnight.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_hour_buckets_in_local_time_across_spring_forward(client: TestClient) -> None:
    berlin_camera(client, "yard")
    post(client, [
        event("yard", ts="2026-03-15T09:10:00Z"),  # Sunday 10:10 CET, 2 weeks before
        event("yard", ts="2026-03-22T09:10:00Z"),  # 10:10 CET, a week before
        event("yard", ts="2026-03-22T09:20:00Z"),
        event("yard", ts="2026-03-22T09:30:00Z"),
        event("yard", ts="2026-03-29T00:30:00Z"),  # 01:30 CET
        event("yard", ts="2026-03-29T01:30:00Z"),  # 03:30 CEST
        event("yard", ts="2026-03-29T08:30:00Z", label="car"),  # 10:30 CEST
    ])
    body = activity(client, "yard", path="sources", bucket="hour", **{"from": "2026-03-29",
                                                                      "to": "2026-03-29"})
    points = body["points"]
    assert len(points) == 23 and body["bucket"] == "hour"
    by_start = {p["start"]: p for p in points}
    assert "2026-03-29T02:00:00" not in by_start
    assert by_start["2026-03-29T01:00:00"]["utc"] == "2026-03-29T00:00:00Z"
    assert by_start["2026-03-29T01:00:00"]["count"] == 1
    assert by_start["2026-03-29T03:00:00"]["utc"] == "2026-03-29T01:00:00Z"
    assert by_start["2026-03-29T03:00:00"]["count"] == 1
    ten = by_start["2026-03-29T10:00:00"]
    # weeks 3 and 4 before are before the first day (15 March): not zeros
    assert (ten["count"], ten["weeks_seen"], ten["expected"]) == (1, 2, 2.0)
    assert ten["low"] == 0.0 and ten["high"] > ten["expected"]
    assert body["total"] == 3 and body["labels"] == {"person": 2, "car": 1}


def test_labels_mix_counts_each_label_and_events_once(client: TestClient) -> None:
    post(client, [event("gate", ts="2026-03-10T08:00:00Z"),
                  event("gate", ts="2026-03-10T09:00:00Z", label="car"),
                  event("gate", ts="2026-03-11T09:00:00Z", label=None, labels=["person", "dog"]),
                  event("gate", ts="2026-03-11T10:00:00Z", label=None),
                  event("gate", ts="2026-03-20T10:00:00Z", label="cat")])  # outside the range
    body = activity(client, "gate", **{"from": "2026-03-10", "to": "2026-03-11"})
    assert body["labels"] == {"person": 2, "car": 1, "dog": 1}
    assert list(body["labels"]) == ["person", "car", "dog"]  # most frequent first
    assert body["total"] == 4 and [p["count"] for p in body["points"]] == [2, 2]
    assert body["timezone"] == "UTC"


def test_expected_band_over_weeks(client: TestClient) -> None:
    days = ["2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23"]  # Mondays
    sent = [event("hall", ts=f"{day}T12:{minute:02d}:00Z")
            for day, n in zip(days, [3, 5, 4, 4], strict=True) for minute in range(n)]
    post(client, sent + [event("hall", ts=f"2026-03-30T12:{m:02d}:00Z") for m in range(30)])
    body = activity(client, "hall", weeks=4, **{"from": "2026-03-30", "to": "2026-03-30"})
    (spike,) = body["points"]
    assert (spike["count"], spike["weeks_seen"], spike["expected"]) == (30, 4, 4.0)
    assert spike["count"] > spike["high"]
    short = activity(client, "hall", weeks=1, **{"from": "2026-03-30", "to": "2026-03-30"})
    assert short["points"][0]["expected"] is None and short["points"][0]["weeks_seen"] == 1


def test_unknown_source_is_404(client: TestClient) -> None:
    for path in ("cameras", "sources"):
        response = client.get(f"/api/v1/{path}/nope/activity")
        assert response.status_code == 404, response.text
        assert response.json()["field"] == "source_id"


def test_bad_parameters_are_422_naming_the_field(client: TestClient) -> None:
    post(client, [event("door")])
    cases: list[tuple[dict[str, Any], str]] = [({"from": "2026-03-10", "to": "2026-03-01"}, "to"),
             ({"from": "2099-01-01"}, "from"),
             ({"from": "2025-01-01", "to": "2026-01-02"}, "from"),
             ({"from": "2026-02-30"}, "from"),
             ({"to": "yesterday"}, "to"),
             ({"bucket": "week"}, "bucket"),
             ({"weeks": 0}, "weeks"),
             ({"weeks": 53}, "weeks")]
    for params, field in cases:
        response = client.get("/api/v1/cameras/door/activity", params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["field"] == field, (params, response.text)
    widest = activity(client, "door", **{"from": "2025-01-01", "to": "2026-01-01"})
    assert len(widest["points"]) == 366


def test_new_events_show_at_once(client: TestClient) -> None:
    window = {"from": "2026-03-22", "to": "2026-03-22"}
    post(client, [event("drive")])
    assert activity(client, "drive", **window)["total"] == 1
    post(client, [event("drive", ts="2026-03-22T11:00:00Z")])
    assert activity(client, "drive", **window)["total"] == 2  # the cache followed the commit


def test_one_day_of_every_source_equals_each_sources_own_answer(client: TestClient) -> None:
    berlin_camera(client, "porch")
    days = ["2026-03-03", "2026-03-10", "2026-03-17", "2026-03-24"]
    post(client, [event("porch", ts=f"{day}T{hour:02d}:15:00Z", event_id=f"p{day}{hour}")
                  for n, day in enumerate(days) for hour in range(8, 10 + n)])
    post(client, [event("gate", ts="2026-03-24T12:00:00Z", event_id="g1")])
    response = client.get("/api/v1/activity", params={"date": "2026-03-24", "weeks": 3})
    assert response.status_code == 200, response.text
    listed = {s["source_id"]: s for s in response.json()["sources"]}
    assert set(listed) == {"porch", "gate"}
    for source, found in listed.items():
        own = activity(client, source, **{"from": "2026-03-24", "to": "2026-03-24",
                                          "weeks": 3})["points"][0]
        assert found["date"] == "2026-03-24"
        assert {k: found[k] for k in ("count", "expected", "low", "high", "weeks_seen")} == {
            k: own[k] for k in ("count", "expected", "low", "high", "weeks_seen")}
    assert listed["porch"]["count"] == 5 and listed["porch"]["weeks_seen"] == 3
    assert listed["porch"]["expected"] == 3.0


def test_one_day_of_every_source_rejects_a_bad_date(client: TestClient) -> None:
    response = client.get("/api/v1/activity", params={"date": "24/03/2026"})
    assert response.status_code == 422
    assert response.json()["field"] == "date"
