"""POST /api/v1/events: one object, arrays, NDJSON; counts, rejections, idempotency."""

from __future__ import annotations

import json
import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.store import Store

from .helpers import EVENTS, all_events, event

NDJSON = {"content-type": "application/x-ndjson"}


def test_one_object_is_accepted_and_stored(client: TestClient) -> None:
    response = client.post(EVENTS, json=event())
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "rejected": 0, "errors": []}
    stored = all_events(client)
    assert [(e["source_id"], e["ts"], e["labels"]) for e in stored] == [
        ("cam1", "2026-03-22T10:00:00Z", ["person"])
    ]


def test_json_array_counts_each_item(client: TestClient) -> None:
    items = [event(ts=f"2026-03-22T10:0{i}:00Z") for i in range(3)]
    items.append(items[0])  # the same event twice in one batch
    response = client.post(EVENTS, json=items)
    assert response.status_code == 200
    assert response.json() == {"accepted": 3, "duplicates": 1, "rejected": 0, "errors": []}
    assert len(all_events(client)) == 3


def test_ndjson_body(client: TestClient) -> None:
    lines = [json.dumps(event(ts=f"2026-03-22T11:0{i}:00Z")) for i in range(4)]
    body = "\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n"
    response = client.post(EVENTS, content=body.encode(), headers=NDJSON)
    assert response.status_code == 200
    assert response.json() == {"accepted": 4, "duplicates": 0, "rejected": 0, "errors": []}
    assert sorted(e["ts"] for e in all_events(client)) == [
        f"2026-03-22T11:0{i}:00Z" for i in range(4)
    ]


def test_ndjson_bad_line_is_rejected_with_its_index(client: TestClient) -> None:
    body = "\n".join([json.dumps(event()), "{oops", json.dumps(event(ts="2026-03-22T12:00:00Z"))])
    response = client.post(EVENTS, content=body.encode(), headers=NDJSON)
    assert response.status_code == 200
    result = response.json()
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 0, 1)
    [error] = result["errors"]
    assert error["index"] == 1
    assert error["field"] == "row"
    assert error["message"]


def test_mixed_batch_reports_every_rejected_item(client: TestClient) -> None:
    good = event()
    no_camera = event()
    del no_camera["camera_id"]
    items = [
        good,
        event(confidence=1.5),
        no_camera,
        {"camera_id": "door", "event_type": "entry", "timestamp": "2026-03-22T10:00:00Z"},
        event(timestamp="half past ten"),
        event(timestamp="2026-03-22T10:30:00"),
        event(ts="2026-03-22T10:45:00Z"),
    ]
    response = client.post(EVENTS, json=items)
    assert response.status_code == 200
    result = response.json()
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (2, 0, 5)
    by_index = {e["index"]: e for e in result["errors"]}
    assert {i: e["field"] for i, e in by_index.items()} == {
        1: "confidence",
        2: "source_id",
        3: "person_id",
        4: "timestamp",
        5: "timestamp",
    }
    assert by_index[5]["reason"] == "timestamp_no_zone"
    assert by_index[4]["reason"] == "timestamp_invalid"
    for error in result["errors"]:
        assert isinstance(error["message"], str) and len(error["message"]) > 5
    assert "zone" in by_index[5]["message"]
    assert len(all_events(client)) == 2


def test_zoneless_timestamp_accepted_with_timezone_param(client: TestClient) -> None:
    item = event(timestamp="2026-03-22T10:30:00")
    rejected = client.post(EVENTS, json=item)
    assert rejected.status_code == 422
    assert rejected.json()["field"] == "timestamp"
    response = client.post(EVENTS, params={"timezone": "Europe/Berlin"}, json=item)
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    [stored] = all_events(client)
    assert stored["ts"] == "2026-03-22T09:30:00Z"  # CET, one hour ahead of UTC


def test_unknown_timezone_param(client: TestClient) -> None:
    response = client.post(EVENTS, params={"timezone": "Mars/X"}, json=event())
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "timezone"
    assert "Mars/X" in body["error"]
    assert all_events(client) == []


def test_nothing_valid_is_422_with_counts(client: TestClient) -> None:
    response = client.post(EVENTS, json=[event(confidence=-0.1), event(event_type="Bad Type")])
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == "confidence"
    assert body["error"]
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (0, 0, 2)
    assert [e["index"] for e in body["errors"]] == [0, 1]
    assert body["errors"][1]["field"] == "event_type"
    assert all_events(client) == []


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b'{"camera_id": "cam1", "event_type": ', {"content-type": "application/json"}),
        (b"this is not json at all", {"content-type": "application/json"}),
        (b"hello world", {}),
        (b"", {"content-type": "application/json"}),
        (b"\xff\xfe\x00garbage", {"content-type": "application/json"}),
    ],
    ids=["truncated-json", "plain-text-as-json", "plain-text", "empty", "not-utf8"],
)
def test_body_that_is_not_json_is_400(client: TestClient, body: bytes,
                                      headers: dict[str, str]) -> None:
    response = client.post(EVENTS, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "body"
    assert response.json()["error"]


def test_repost_without_ids_is_all_duplicates(client: TestClient) -> None:
    items = [event(ts=f"2026-03-22T10:0{i}:00Z", zone="porch") for i in range(5)]
    first = client.post(EVENTS, json=items)
    assert first.json()["accepted"] == 5
    again = client.post(EVENTS, json=items)
    assert again.status_code == 200
    assert again.json() == {"accepted": 0, "duplicates": 5, "rejected": 0, "errors": []}
    ndjson = "\n".join(json.dumps(i) for i in items).encode()
    third = client.post(EVENTS, content=ndjson, headers=NDJSON)
    assert third.json() == {"accepted": 0, "duplicates": 5, "rejected": 0, "errors": []}
    assert len(all_events(client)) == 5


def test_repost_with_client_ids_is_all_duplicates(client: TestClient) -> None:
    items = [event(ts=f"2026-03-22T10:0{i}:00Z", event_id=f"client-{i}") for i in range(4)]
    assert client.post(EVENTS, json=items).json()["accepted"] == 4
    again = client.post(EVENTS, json=items)
    assert again.json() == {"accepted": 0, "duplicates": 4, "rejected": 0, "errors": []}
    stored = all_events(client)
    assert sorted(e["event_id"] for e in stored) == [f"client-{i}" for i in range(4)]


def test_different_content_is_not_a_duplicate(client: TestClient) -> None:
    assert client.post(EVENTS, json=event()).json()["accepted"] == 1
    assert client.post(EVENTS, json=event(label="car")).json()["accepted"] == 1
    assert len(all_events(client)) == 2


def test_unknown_fields_land_in_attributes(client: TestClient) -> None:
    item = event(weather="rain", speed_kmh=12.5, extra={"plate": "B-XY 1"},
                 attributes={"declared": True})
    assert client.post(EVENTS, json=item).json()["accepted"] == 1
    [stored] = all_events(client)
    assert stored["attributes"] == {"weather": "rain", "speed_kmh": 12.5,
                                    "extra": {"plate": "B-XY 1"}, "declared": True}
    assert "weather" not in stored


def test_aliases_and_optional_fields_are_stored(client: TestClient) -> None:
    item = {"source_id": "hall", "event_type": "entry", "timestamp": 1774173600,
            "person_id": 42, "room": "hallway", "labels": ["Person", "dog"],
            "detections": [{"label": "cat", "box": [1, 2, 3, 4]}]}
    assert client.post(EVENTS, json=item).json()["accepted"] == 1
    [stored] = all_events(client)
    assert stored["source_id"] == "hall"
    assert stored["subject_id"] == "42"
    assert stored["zone"] == "hallway"
    assert stored["labels"] == ["cat", "dog", "person"]
    assert stored["ts"] == "2026-03-22T10:00:00Z"
    assert stored["detections"] == [{"label": "cat", "box": [1, 2, 3, 4]}]


def test_concurrent_posts_are_all_committed(app: FastAPI, client: TestClient) -> None:
    failures: list[str] = []

    def post(worker: int) -> None:
        for batch in range(5):
            items = [event(f"w{worker}", f"2026-03-23T{batch:02d}:{i:02d}:00Z")
                     for i in range(20)]
            response = client.post(EVENTS, json=items)
            if response.status_code != 200 or response.json()["accepted"] != 20:
                failures.append(response.text)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert len(all_events(client)) == 6 * 5 * 20
    store: Store = app.state.vigil.store
    assert store.hourly_counts().equals(store.hourly_counts_from_events())


def test_oversized_body_is_refused_with_413(client: TestClient,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from vigil.api import routes_events

    monkeypatch.setattr(routes_events, "MAX_BODY_BYTES", 2000)
    body = json.dumps([{"camera_id": "cam1", "event_type": "detection",
                        "timestamp": 1770000000 + i} for i in range(100)])
    response = client.post("/api/v1/events", content=body,
                           headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["field"] == "body"
    assert "uploads" in response.json()["error"]
    assert client.get("/api/v1/events").json()["events"] == []
