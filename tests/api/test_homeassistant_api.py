"""``POST /api/v1/events/homeassistant``: Home Assistant state_changed events over HTTP."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .helpers import add_key, all_events

HA = "/api/v1/events/homeassistant"
pytestmark = pytest.mark.parametrize("backend", ["duckdb"])


def state_changed(entity: str, new: str | None, at: str, old: str | None = None,
                  **attributes: Any) -> dict[str, Any]:
    """A Home Assistant ``state_changed`` event as its event bus delivers it."""
    def state(value: str | None, when: str, attrs: dict[str, Any]) -> dict[str, Any] | None:
        if value is None:
            return None
        return {"entity_id": entity, "state": value, "attributes": attrs,
                "last_changed": when, "last_updated": when,
                "context": {"id": "01HQ", "parent_id": None, "user_id": None}}

    return {"event_type": "state_changed", "origin": "LOCAL", "time_fired": at,
            "data": {"entity_id": entity, "old_state": state(old, "2024-03-01T08:00:00Z", {}),
                     "new_state": state(new, at, attributes)}}


def test_event_array_and_ndjson_are_stored(client: TestClient) -> None:
    first = state_changed("light.kitchen", "on", "2024-03-01T10:00:00.123+00:00", old="off",
                          friendly_name="Kitchen", area="Kitchen", brightness=180)
    response = client.post(HA, json=first)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}
    [stored] = all_events(client, source="light.kitchen")
    assert (stored["event_type"], stored["state"], stored["labels"], stored["zone"],
            stored["ts"]) == ("state_changed", "on", ["light"], "Kitchen",
                              "2024-03-01T10:00:00.123000Z")
    assert stored["attributes"] == {"friendly_name": "Kitchen", "area": "Kitchen",
                                    "brightness": 180, "old_state": "off", "domain": "light"}
    later = [state_changed("light.kitchen", "off", "2024-03-01T11:00:00Z", old="on")["data"],
             state_changed("binary_sensor.door", None, "2024-03-01T11:30:00Z", old="off")]
    ndjson = "\n".join(json.dumps(item) for item in [first, *later]) + "\n"
    again = client.post(HA, content=ndjson, headers={"content-type": "application/x-ndjson"})
    assert again.json() == {"accepted": 2, "duplicates": 1, "rejected": 0, "errors": []}
    [door] = all_events(client, source="binary_sensor.door")
    assert door["state"] is None
    assert door["attributes"] == {"old_state": "off", "domain": "binary_sensor", "removed": True}
    as_array = client.post(HA, json=later)
    assert as_array.json()["duplicates"] == 2
    # the entities are listed as sources
    sources = {s["source_id"] for s in client.get("/api/v1/cameras").json()["sources"]}
    assert sources == {"light.kitchen", "binary_sensor.door"}


def test_bad_items_are_named_and_the_good_ones_stored(client: TestClient) -> None:
    good = state_changed("switch.fan", "on", "2024-03-01T10:00:00Z", old="off")
    bad_time = state_changed("switch.fan", "off", "yesterday", old="on")
    bad_time["time_fired"] = None
    other = {"event_type": "call_service", "data": {"domain": "light"}}
    response = client.post(HA, json=[good, bad_time, other])
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [(e["index"], e["field"], e["reason"]) for e in body["errors"]] == [
        (1, "data.new_state.last_changed", "timestamp_invalid"),
        (2, "event_type", "ha_not_state_changed")]


@pytest.mark.parametrize(("payload", "field"), [
    ({"entity_id": "light.a", "new_state": {"state": "on"}}, "new_state.last_changed"),
    ({"entity_id": "kitchen", "new_state": {"state": "on", "last_changed": "2024-03-01T10Z"}},
     "entity_id"),
    ({"event_type": "state_changed", "data": {"entity_id": "light.a", "new_state": ["on"]}},
     "data.new_state"),
    ({"camera_id": "porch", "event_type": "detection", "timestamp": "2024-03-01T10:00:00Z"},
     "entity_id"),
    ([{"entity_id": "light.a"}], "new_state"),
])
def test_nothing_valid_is_422_naming_the_field(client: TestClient, payload: Any,
                                               field: str) -> None:
    response = client.post(HA, json=payload)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["field"] == field
    assert body["error"].startswith(field)
    assert (body["accepted"], body["rejected"]) == (0, 1)
    assert all_events(client) == []


def test_ndjson_line_that_is_not_json_is_named(client: TestClient) -> None:
    good = json.dumps(state_changed("light.a", "on", "2024-03-01T10:00:00Z"))
    response = client.post(HA, content=f"{good}\n{{oops\n")
    assert response.status_code == 200
    assert [(e["index"], e["reason"]) for e in response.json()["errors"]] == [
        (1, "invalid_json")]
    not_json = client.post(HA, content=b"definitely not json")
    assert not_json.status_code == 400 and not_json.json()["field"] == "body"


def test_needs_an_ingest_key_once_keys_exist(app: FastAPI, client: TestClient) -> None:
    key = add_key(app, "ingest")
    event = state_changed("light.a", "on", "2024-03-01T10:00:00Z")
    assert client.post(HA, json=event).status_code == 401
    allowed = client.post(HA, json=event, headers={"Authorization": f"Bearer {key}"})
    assert allowed.json()["accepted"] == 1


def test_put_area_then_events_of_the_day_use_it(app: FastAPI, client: TestClient) -> None:
    client.post(HA, json=[state_changed("light.hall", "on", "2024-03-01T10:00:00Z",
                                        area="Hall"),
                          state_changed("sensor.t", "20", "2024-03-01T10:05:00Z")])
    assert client.put("/api/v1/cameras/sensor.t", json={"area": "Attic"}).json()["area"] == "Attic"
    listed = {s["source_id"]: s["area"] for s in client.get("/api/v1/cameras").json()["sources"]}
    assert listed == {"light.hall": None, "sensor.t": "Attic"}
    day = app.state.vigil.store.events_of_local_day(dt.date(2024, 3, 1)).to_pylist()
    assert [(e["source_id"], e["area"]) for e in day] == [("light.hall", "Hall"),
                                                         ("sensor.t", "Attic")]
