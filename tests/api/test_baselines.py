"""``GET /api/v1/context/patterns/{camera_id}`` and ``GET /api/v1/baselines`` on a real store."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from .helpers import EVENTS, event

ORIGINAL_FIELDS = {"hourly_distribution", "daily_distribution", "object_type_distribution",
                   "dominant_object_type", "peak_hours", "quiet_hours",
                   "average_events_per_day", "total_events", "last_calculated_at",
                   "first_event_at", "last_event_at", "status"}
AS_OF = "2026-03-31T12:00:00Z"


def patterns(client: TestClient, camera: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"/api/v1/context/patterns/{camera}", params={"as_of": AS_OF,
                                                                      **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_baseline_in_local_time_with_the_original_field_names(client: TestClient) -> None:
    assert client.put("/api/v1/cameras/porch", json={"timezone": "Europe/Berlin"}
                      ).status_code == 200
    # 29 March 2026: Berlin moves to summer time at 01:00 UTC (02:00 local does not exist)
    sent = [event("porch", ts="2026-03-29T00:30:00Z"),  # 01:30 CET
            event("porch", ts="2026-03-29T01:30:00Z"),  # 03:30 CEST
            event("porch", ts="2026-03-30T06:15:00Z", label="car"),  # Monday 08:15
            event("porch", ts="2026-03-30T06:45:00Z", label="car")]
    assert client.post(EVENTS, json=sent).json()["accepted"] == 4
    body = patterns(client, "porch")
    assert ORIGINAL_FIELDS <= set(body)
    assert body["hourly_distribution"]["01"] == 1 and body["hourly_distribution"]["03"] == 1
    assert body["hourly_distribution"]["02"] == 0 and body["hourly_distribution"]["08"] == 2
    assert body["daily_distribution"]["6"] == 2 and body["daily_distribution"]["0"] == 2
    assert body["object_type_distribution"] == {"car": 2, "person": 2}
    assert body["total_events"] == 4
    assert body["average_events_per_day"] == round(4 / 3, 3)  # 29, 30, 31 March (local)
    assert body["status"] == "learning"  # 3 days, 4 events
    assert body["first_event_at"] == "2026-03-29T00:30:00Z"
    assert body["last_calculated_at"] == AS_OF


def test_new_events_show_at_once(client: TestClient) -> None:
    client.post(EVENTS, json=event("yard", ts="2026-03-30T10:00:00Z"))
    assert patterns(client, "yard")["total_events"] == 1
    client.post(EVENTS, json=event("yard", ts="2026-03-30T11:00:00Z"))
    assert patterns(client, "yard")["total_events"] == 2  # the cache followed the commit


def test_ready_after_enough_history(client: TestClient) -> None:
    sent = [event("gate", ts=f"2026-03-{day:02d}T{hour:02d}:00:00Z")
            for day in range(10, 31) for hour in (8, 9, 17)]
    assert client.post(EVENTS, json=sent).json()["accepted"] == 63
    body = patterns(client, "gate")
    assert body["status"] == "ready"
    assert body["peak_hours"] == [8, 9, 17] and 3 in body["quiet_hours"]
    assert patterns(client, "gate", window_weeks=1)["total_events"] == 3 * 6  # 25-30 March


def test_list_and_errors(client: TestClient) -> None:
    client.post(EVENTS, json=[event("a"), event("b")])
    listed = client.get("/api/v1/baselines", params={"as_of": AS_OF}).json()["baselines"]
    assert [b["source_id"] for b in listed] == ["a", "b"]
    missing = client.get("/api/v1/context/patterns/nope")
    assert missing.status_code == 404 and missing.json()["field"] == "camera_id"
    naive = client.get("/api/v1/context/patterns/a", params={"as_of": "2026-03-31T12:00:00"})
    assert naive.status_code == 422 and naive.json()["field"] == "as_of"
    bad = client.get("/api/v1/baselines", params={"window_weeks": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "window_weeks"
