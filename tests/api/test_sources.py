"""Sources / cameras: listing, time zone changes re-deriving local time."""

from __future__ import annotations

from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .helpers import EVENTS, all_events, event

TIMES = ["2026-03-22T10:00:00Z", "2026-03-22T10:40:00Z", "2026-03-22T23:30:00Z",
         "2026-03-29T12:00:00Z"]


def ingest(client: TestClient) -> None:
    items = [event("garden", ts) for ts in TIMES] + [event("porch", "2026-03-21T06:00:00Z")]
    assert client.post(EVENTS, json=items).json()["accepted"] == 5


def hours(table: pa.Table) -> Counter[tuple[str, int]]:
    """Event count per (local date, local hour) of the all-labels rows."""
    rows = table.filter(pc.equal(table.column("label"), "*")).to_pylist()
    return Counter({(str(r["local_date"]), r["local_hour"]): r["event_count"] for r in rows})


def test_list_after_ingest(client: TestClient) -> None:
    assert client.get("/api/v1/cameras").json() == {"sources": []}
    ingest(client)
    sources = client.get("/api/v1/cameras").json()["sources"]
    assert sources == [
        {"source_id": "garden", "timezone": "UTC", "event_count": 4,
         "first_seen": "2026-03-22T10:00:00Z", "last_seen": "2026-03-29T12:00:00Z",
         "area": None},
        {"source_id": "porch", "timezone": "UTC", "event_count": 1,
         "first_seen": "2026-03-21T06:00:00Z", "last_seen": "2026-03-21T06:00:00Z",
         "area": None},
    ]
    assert client.get("/api/v1/sources").json()["sources"] == sources
    one = client.get("/api/v1/cameras/porch")
    assert one.status_code == 200 and one.json() == sources[1]
    missing = client.get("/api/v1/cameras/nowhere")
    assert missing.status_code == 404
    assert missing.json()["field"] == "source_id"


def test_put_timezone_rederives_local_time(app: FastAPI, client: TestClient) -> None:
    ingest(client)
    store = app.state.vigil.store
    assert hours(store.hourly_counts("garden")) == Counter(
        {("2026-03-22", 10): 2, ("2026-03-22", 23): 1, ("2026-03-29", 12): 1})
    response = client.put("/api/v1/cameras/garden", json={"timezone": "Europe/Berlin"})
    assert response.status_code == 200
    assert response.json()["timezone"] == "Europe/Berlin"
    assert response.json()["event_count"] == 4
    garden = all_events(client, source="garden")
    # CET (+1) before 2026-03-29 01:00 UTC, CEST (+2) after
    assert [(e["local_date"], e["local_hour"], e["local_weekday"]) for e in garden] == [
        ("2026-03-22", 11, 6), ("2026-03-22", 11, 6), ("2026-03-23", 0, 0),
        ("2026-03-29", 14, 6)]
    assert hours(store.hourly_counts("garden")) == Counter(
        {("2026-03-22", 11): 2, ("2026-03-23", 0): 1, ("2026-03-29", 14): 1})
    assert store.hourly_counts("garden").equals(store.hourly_counts_from_events("garden"))
    # the other source is untouched
    [porch] = all_events(client, source="porch")
    assert porch["local_hour"] == 6
    assert client.get("/api/v1/cameras/garden").json()["timezone"] == "Europe/Berlin"


def test_events_after_put_use_the_new_zone(app: FastAPI, client: TestClient) -> None:
    assert client.put("/api/v1/cameras/yard", json={"timezone": "Asia/Tokyo"}).status_code == 200
    assert client.get("/api/v1/cameras/yard").json()["event_count"] == 0
    assert client.post(EVENTS, json=event("yard", "2026-03-22T20:00:00Z")).json()["accepted"]
    [stored] = all_events(client, source="yard")
    assert (stored["local_date"], stored["local_hour"]) == ("2026-03-23", 5)
    store = app.state.vigil.store
    assert hours(store.hourly_counts("yard")) == Counter({("2026-03-23", 5): 1})


def test_put_bad_zone_is_422_and_changes_nothing(client: TestClient) -> None:
    ingest(client)
    response = client.put("/api/v1/cameras/garden", json={"timezone": "Mars/X"})
    assert response.status_code == 422
    assert response.json()["field"] == "timezone"
    assert "Mars/X" in response.json()["error"]
    assert client.put("/api/v1/cameras/garden", json={}).json()["field"] == "timezone"
    assert client.get("/api/v1/cameras/garden").json()["timezone"] == "UTC"
    assert [e["local_hour"] for e in all_events(client, source="garden")] == [10, 10, 23, 12]


def test_put_area_shows_in_listings_and_clears(app: FastAPI, client: TestClient) -> None:
    ingest(client)
    before = client.get("/api/v1/cameras/garden").json()
    response = client.put("/api/v1/cameras/garden", json={"area": " Back garden "})
    assert response.status_code == 200, response.text
    assert response.json() == {**before, "area": "Back garden"}  # the zone is unchanged
    assert client.get("/api/v1/cameras/garden").json()["area"] == "Back garden"
    listed = {s["source_id"]: s["area"] for s in client.get("/api/v1/cameras").json()["sources"]}
    assert listed == {"garden": "Back garden", "porch": None}
    assert [e["local_hour"] for e in all_events(client, source="garden")] == [10, 10, 23, 12]
    cleared = client.put("/api/v1/cameras/garden", json={"area": None})
    assert cleared.status_code == 200 and cleared.json()["area"] is None
    assert client.get("/api/v1/sources/garden").json()["area"] is None


def test_put_area_and_timezone_together_and_new_source(client: TestClient) -> None:
    both = client.put("/api/v1/cameras/light.hall",
                      json={"timezone": "Europe/Berlin", "area": "Hall"})
    assert both.status_code == 200, both.text
    assert (both.json()["timezone"], both.json()["area"]) == ("Europe/Berlin", "Hall")
    only_area = client.put("/api/v1/cameras/sensor.new", json={"area": "Attic"})
    assert only_area.json()["timezone"] == "UTC"  # registered with the default zone
    assert only_area.json()["event_count"] == 0
    # setting the zone alone keeps the area
    client.put("/api/v1/cameras/light.hall", json={"timezone": "Asia/Tokyo"})
    assert client.get("/api/v1/cameras/light.hall").json()["area"] == "Hall"


def test_put_bad_area_is_422_naming_it_and_changes_nothing(client: TestClient) -> None:
    ingest(client)
    client.put("/api/v1/cameras/garden", json={"area": "Garden"})
    for body in ({"area": "   "}, {"area": 5}, {"area": "x" * 129},
                 {"area": "Yard", "timezone": "Mars/X"}):
        response = client.put("/api/v1/cameras/garden", json=body)
        assert response.status_code == 422, body
        assert response.json()["field"] == ("timezone" if "timezone" in body else "area")
    nothing = client.put("/api/v1/cameras/garden", json={"note": "no settings"})
    assert nothing.status_code == 422
    assert "area" in nothing.json()["error"]
    null_zone = client.put("/api/v1/cameras/garden", json={"timezone": None, "area": "Yard"})
    assert null_zone.status_code == 422 and null_zone.json()["field"] == "timezone"
    assert client.get("/api/v1/cameras/garden").json()["area"] == "Garden"
