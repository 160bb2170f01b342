"""The attributes visits can be grouped by, over HTTP: names, distinct values and the most
common values with their session counts, computed here from the posted events (a session
carries the attributes of its entry, or of the exit of an orphan exit)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .helpers import EVENTS, add_key, quiet_service

URL = "/api/v1/analytics/attributes"
AGES = ("18-24", "25-34", "35-44", "45-54")
DAYS = ("2026-03-02", "2026-03-03")
PEOPLE = 24


def visit_events(i: int) -> list[dict[str, Any]]:
    """Person ``i``'s visit: an entry with attributes (some odd ones) and an exit whose own
    attributes never reach a session (its entry is the anchor)."""
    camera, day = f"cam{1 + i % 2}", DAYS[i % 3 == 0]
    attributes: dict[str, Any] = {
        "age_group": AGES[i % 4] if i % 5 else AGES[1],  # 25-34 most common
        "badge": f"b{i:02d}",  # one value per person: more than ten distinct
        "floor": str(i % 3) if i % 7 == 0 else i % 3,  # 1 and "1" are one value
        "note": 'say "hi" ü\\' if i % 2 else "plain",  # escaped in JSON, not in the value
        "gender": None if i % 4 == 0 else ("f" if i % 2 else "m"),  # null: no value
        "age group": "x",  # not a valid grouping name
    }
    if i % 6 == 0:
        attributes["vip"] = True
    person = f"p{i:02d}"
    return [
        {"event_id": f"{person}-in", "camera_id": camera, "event_type": "entry",
         "timestamp": f"{day}T{8 + i % 10:02d}:00:00Z", "subject_id": person,
         "attributes": attributes},
        {"event_id": f"{person}-out", "camera_id": camera, "event_type": "exit",
         "timestamp": f"{day}T{8 + i % 10:02d}:20:00Z", "subject_id": person,
         "attributes": {"door": "north"}},
    ]


ORPHAN = {"event_id": "px-out", "camera_id": "cam2", "event_type": "exit",
          "timestamp": f"{DAYS[1]}T20:00:00Z", "subject_id": "px",
          "attributes": {"door": "south", "age_group": "65+"}}
EVENTS_POSTED = [e for i in range(PEOPLE) for e in visit_events(i)] + [ORPHAN]


def anchors(events: list[dict[str, Any]], camera: str | None = None,
            day: str | None = None) -> list[dict[str, Any]]:
    """The anchor events of the sessions: every entry, and the one exit without an entry."""
    entered = {e["subject_id"] for e in events if e["event_type"] == "entry"}
    return [e for e in events
            if (e["event_type"] == "entry" or e["subject_id"] not in entered)
            and camera in (None, e["camera_id"]) and day in (None, e["timestamp"][:10])]


def expected(events: list[dict[str, Any]], top: int = 10) -> dict[str, dict[str, Any]]:
    """Per valid name: distinct values, sessions with a value and the top values (by count,
    ties by value)."""
    counts: dict[str, Counter[str]] = {}
    for event in events:
        for name, value in event["attributes"].items():
            if " " in name or value is None:
                continue
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            counts.setdefault(name, Counter())[text] += 1
    return {name: {"name": name, "distinct": len(c), "sessions": sum(c.values()),
                   "values": [{"value": v, "count": n} for v, n in
                              sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[:top]]}
            for name, c in counts.items()}


def post(client: TestClient, items: list[dict[str, Any]]) -> None:
    response = client.post(EVENTS, json=items)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(items), response.text


def get(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(URL, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def quiet(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The service with the visits stored and nothing committing in the background."""
    with quiet_service(store_url, tmp_path) as opened:
        post(opened, EVENTS_POSTED)
        yield opened


def test_names_distinct_values_and_top_values(quiet: TestClient) -> None:
    body = get(quiet)
    found = {a["name"]: a for a in body["attributes"]}
    want = expected(anchors(EVENTS_POSTED))
    assert [a["name"] for a in body["attributes"]] == sorted(want)
    assert found == want
    assert "door" in found and found["door"]["values"] == [{"value": "south", "count": 1}]
    assert found["badge"]["distinct"] == PEOPLE and len(found["badge"]["values"]) == 10
    assert found["age_group"]["values"][0]["value"] == "25-34"
    assert body["filter"]["cameras"] == []


def test_counts_equal_the_groups_of_the_kpis(quiet: TestClient) -> None:
    (ages,) = [a for a in get(quiet)["attributes"] if a["name"] == "age_group"]
    kpis = quiet.get("/api/v1/analytics/kpis", params={"group_by": "attributes.age_group"})
    groups = {g["attributes.age_group"]: sum(g["sessions"].values())
              for g in kpis.json()["groups"] if g["attributes.age_group"] is not None}
    assert {v["value"]: v["count"] for v in ages["values"]} == groups


def test_filters_and_top(quiet: TestClient) -> None:
    cam2_day2 = get(quiet, camera="cam2", **{"from": DAYS[1], "to": DAYS[1]})
    want = expected(anchors(EVENTS_POSTED, "cam2", DAYS[1]))
    assert {a["name"]: a for a in cam2_day2["attributes"]} == want
    assert cam2_day2["filter"]["cameras"] == ["cam2"]
    top3 = get(quiet, top=3)
    assert {a["name"]: a for a in top3["attributes"]} == expected(anchors(EVENTS_POSTED), 3)
    assert get(quiet, **{"from": "2020-01-01", "to": "2020-01-31"})["attributes"] == []


def test_cached_until_new_events(quiet: TestClient) -> None:
    first = get(quiet)
    assert get(quiet) == first  # served from the cache
    newcomer = [{**e, "attributes": {"age_group": "75+", "mood": "happy"}}
                for e in visit_events(PEOPLE + 1)]
    for e, n in zip(newcomer, ("pz-in", "pz-out"), strict=True):
        e["event_id"], e["subject_id"] = n, "pz"
    post(quiet, newcomer)
    after = {a["name"]: a for a in get(quiet)["attributes"]}
    assert after == expected(anchors([*EVENTS_POSTED, *newcomer]))
    assert after["mood"]["values"] == [{"value": "happy", "count": 1}]


def test_bad_requests_and_keys(app: FastAPI, client: TestClient) -> None:
    bad = client.get(URL, params={"top": 0})
    assert bad.status_code == 422 and bad.json()["field"] == "top"
    naive = client.get(URL, params={"from": "2026-03-02T10:00:00"})
    assert naive.status_code == 422 and naive.json()["field"] == "from"
    assert client.get(URL).json()["attributes"] == []
    key = add_key(app, "read")
    assert client.get(URL).status_code == 401
    assert client.get(URL, headers={"X-API-Key": key}).status_code == 200
