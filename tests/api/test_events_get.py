"""GET /api/v1/events: filters, limits and stable cursor pagination."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .helpers import EVENTS, all_events, event

START = dt.datetime(2026, 3, 22, 8, 0, tzinfo=dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def dataset() -> list[dict[str, Any]]:
    """30 events over two cameras, three types, two labels and two people."""
    items = []
    for i in range(30):
        camera = "cam_a" if i % 2 else "cam_b"
        kind = ("detection", "entry", "exit")[i % 3]
        extra: dict[str, Any] = {"event_id": f"ev-{i:02d}", "event_type": kind,
                                 "label": "person" if i % 5 else "car"}
        if kind != "detection":
            extra["person_id"] = f"p{i % 2}"
        items.append(event(camera, iso(START + dt.timedelta(minutes=10 * i)), **extra))
    return items


@pytest.fixture
def loaded(client: TestClient) -> list[dict[str, Any]]:
    items = dataset()
    assert client.post(EVENTS, json=items).json()["accepted"] == len(items)
    return items


def ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["event_id"] for e in events]


def expected(items: list[dict[str, Any]], **match: Any) -> list[str]:
    return [i["event_id"] for i in items if all(i.get(k) == v for k, v in match.items())]


def test_default_listing_is_in_time_order(client: TestClient, loaded: list[dict[str, Any]]
                                          ) -> None:
    body = client.get(EVENTS).json()
    assert ids(body["events"]) == ids(loaded)
    assert body["next_cursor"] is None
    first = body["events"][0]
    assert first["local_date"] == "2026-03-22" and first["local_hour"] == 8
    assert first["local_weekday"] == 6  # a Sunday, 0 = Monday


@pytest.mark.parametrize("param", ["source", "camera_id"])
def test_filter_by_source(client: TestClient, loaded: list[dict[str, Any]], param: str) -> None:
    found = client.get(EVENTS, params={param: "cam_a"}).json()["events"]
    assert ids(found) == expected(loaded, camera_id="cam_a")
    assert {e["source_id"] for e in found} == {"cam_a"}


def test_filter_by_event_type_label_and_person(client: TestClient,
                                               loaded: list[dict[str, Any]]) -> None:
    entries = client.get(EVENTS, params={"event_type": "entry"}).json()["events"]
    assert ids(entries) == expected(loaded, event_type="entry")
    cars = client.get(EVENTS, params={"label": "car"}).json()["events"]
    assert ids(cars) == expected(loaded, label="car")
    p1 = client.get(EVENTS, params={"person_id": "p1"}).json()["events"]
    assert ids(p1) == expected(loaded, person_id="p1")
    combined = client.get(EVENTS, params={"source": "cam_b", "event_type": "exit",
                                          "label": "person"}).json()["events"]
    assert ids(combined) == expected(loaded, camera_id="cam_b", event_type="exit",
                                     label="person")
    assert combined  # the combination is not empty in this data set
    assert client.get(EVENTS, params={"source": "nowhere"}).json()["events"] == []


def test_filter_by_time_range(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    start = START + dt.timedelta(minutes=50)
    end = START + dt.timedelta(minutes=120)
    found = client.get(EVENTS, params={"from": iso(start), "to": iso(end)}).json()["events"]
    assert ids(found) == [f"ev-{i:02d}" for i in range(5, 12)]  # from inclusive, to exclusive
    # the same instant written with an offset
    berlin = start.astimezone(dt.timezone(dt.timedelta(hours=1))).isoformat()
    assert ids(client.get(EVENTS, params={"from": berlin}).json()["events"]) == [
        f"ev-{i:02d}" for i in range(5, 30)
    ]


@pytest.mark.parametrize("name", ["from", "to"])
def test_time_bound_without_zone_is_422(client: TestClient, name: str) -> None:
    response = client.get(EVENTS, params={name: "2026-03-22T10:00:00"})
    assert response.status_code == 422
    assert response.json()["field"] == name


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_limit_out_of_bounds(client: TestClient, limit: int) -> None:
    response = client.get(EVENTS, params={"limit": limit})
    assert response.status_code == 422
    assert response.json()["field"] == "limit"
    assert "limit" in response.json()["error"]


def test_limit_bounds_accepted(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    one = client.get(EVENTS, params={"limit": 1}).json()
    assert ids(one["events"]) == ["ev-00"]
    assert one["next_cursor"] is not None
    assert len(client.get(EVENTS, params={"limit": 1000}).json()["events"]) == 30


def walk(client: TestClient, limit: int, **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        body = client.get(EVENTS, params=query).json()
        pages.append(ids(body["events"]))
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


def test_cursor_walks_every_event_once(client: TestClient, loaded: list[dict[str, Any]]) -> None:
    pages = walk(client, 7)
    assert [len(p) for p in pages] == [7, 7, 7, 7, 2]
    assert [i for page in pages for i in page] == ids(loaded)


def test_cursor_with_exact_page_multiple_and_filters(client: TestClient,
                                                     loaded: list[dict[str, Any]]) -> None:
    pages = walk(client, 5, source="cam_a")
    flat = [i for page in pages for i in page]
    assert flat == expected(loaded, camera_id="cam_a")
    assert len(flat) == 15 and all(pages)


def test_cursor_breaks_ties_on_equal_timestamps(client: TestClient) -> None:
    same = "2026-03-22T12:00:00Z"
    items = [event(ts=same, event_id=f"tie-{i}") for i in (3, 1, 4, 0, 2)]
    assert client.post(EVENTS, json=items).json()["accepted"] == 5
    pages = walk(client, 2)
    assert [i for page in pages for i in page] == [f"tie-{i}" for i in range(5)]


def test_pagination_stable_while_inserts_continue(client: TestClient,
                                                  loaded: list[dict[str, Any]]) -> None:
    at_start = set(ids(loaded))
    seen: list[str] = []
    cursor = None
    page_no = 0
    while True:
        query = {"limit": 6, **({"cursor": cursor} if cursor else {})}
        body = client.get(EVENTS, params=query).json()
        seen.extend(ids(body["events"]))
        cursor = body["next_cursor"]
        if cursor is None:
            break
        last = body["events"][-1]
        last_ts = dt.datetime.fromisoformat(last["ts"])
        page_no += 1
        new = [
            # before the cursor: earlier, and the same instant with a smaller id
            event("cam_a", iso(last_ts - dt.timedelta(minutes=3)), event_id=f"new-{page_no}-a"),
            event("cam_b", iso(last_ts), event_id=f"aaa-{page_no}"),
            # after the cursor: the same instant with a larger id, and later
            event("cam_a", iso(last_ts), event_id=f"zzz-{page_no}"),
            event("cam_b", iso(last_ts + dt.timedelta(minutes=1)), event_id=f"new-{page_no}-b"),
        ]
        assert client.post(EVENTS, json=new).json()["accepted"] == 4
    assert len(seen) == len(set(seen)), "an already-listed event came again"
    assert at_start <= set(seen), f"skipped: {sorted(at_start - set(seen))}"
    later = {f"zzz-{n}" for n in range(1, page_no + 1)} | {
        f"new-{n}-b" for n in range(1, page_no + 1)}
    assert later <= set(seen)
    assert not {i for i in seen if i.startswith("aaa-")}
    listed = [(e["ts"], e["event_id"]) for e in all_events(client)]
    assert listed == sorted(listed)


def _cursor(raw: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    ["garbage!", "zzz", _cursor(None), _cursor({"a": 1, "b": 2}), _cursor([1, "x"]),
     _cursor(["not a time", "x"]), _cursor(["2026-03-22T10:00:00Z"]),
     base64.urlsafe_b64encode(b"\xff\xfe").decode()],
)
def test_bad_cursor_is_422(client: TestClient, cursor: str) -> None:
    response = client.get(EVENTS, params={"cursor": cursor})
    assert response.status_code == 422
    assert response.json()["field"] == "cursor"
