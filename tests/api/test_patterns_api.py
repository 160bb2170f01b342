"""``GET /api/v1/patterns`` on the real app (DuckDB and PostgreSQL): filters, the response
shape, 422s naming the field, keys, the cache following a new detection, and the
``patterns`` job in ``/api/v1/jobs`` and ``/metrics``."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.patterns.base import Pattern

from .helpers import add_key, event

PATTERNS = "/api/v1/patterns"
D = dt.date(2026, 3, 1)
NOW = dt.datetime(2026, 3, 31, 3, 15, tzinfo=dt.UTC)
STORED = [
    Pattern(type="time_of_day", key="light.kitchen|on", entities=("light.kitchen",),
            confidence=0.9, description="light.kitchen turns on around 06:40 (±5 min)",
            evidence={"days_observed": 25, "window_days": 30, "median_minute": 400},
            first_seen=D, last_seen=D + dt.timedelta(days=29)),
    Pattern(type="cooccurrence", key="light.hall|light.kitchen",
            entities=("light.hall", "light.kitchen"), confidence=0.7,
            description="light.hall and light.kitchen go on together",
            evidence={"days_observed": 18, "together": 18},
            first_seen=D + dt.timedelta(days=2), last_seen=D + dt.timedelta(days=28)),
]


def store_patterns(app: FastAPI, patterns: list[Pattern], now: dt.datetime = NOW) -> None:
    """Replace the patterns through the service's writer, as the patterns job does."""
    assert app.state.jobs.wait_idle(30)  # the catch-up at start (detection included) is over
    app.state.vigil.writer.run(
        lambda store: store.replace_patterns(patterns, D + dt.timedelta(days=29), now))


def metric_value(client: TestClient, sample: str) -> float:
    found = [line.rsplit(" ", 1)[1] for line in client.get("/metrics").text.splitlines()
             if line.startswith(sample)]
    return float(found[0]) if found else 0.0


def listed(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(PATTERNS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_stored_patterns_with_every_field(app: FastAPI, client: TestClient) -> None:
    store_patterns(app, STORED)
    body = listed(client)
    assert body["count"] == 2
    assert body["patterns"][0] == {
        "pattern_id": "time_of_day:light.kitchen|on", "type": "time_of_day",
        "entities": ["light.kitchen"], "confidence": 0.9,
        "description": "light.kitchen turns on around 06:40 (±5 min)",
        "evidence": {"days_observed": 25, "window_days": 30, "median_minute": 400},
        "first_seen": "2026-03-01", "last_seen": "2026-03-30", "window_end": "2026-03-30",
        "detected_at": "2026-03-31T03:15:00Z"}
    assert body["patterns"][1]["pattern_id"] == "cooccurrence:light.hall|light.kitchen"


@pytest.mark.parametrize(("params", "expected"), [
    ({"type": "cooccurrence"}, ["cooccurrence:light.hall|light.kitchen"]),
    ({"entity": "light.kitchen"}, ["time_of_day:light.kitchen|on",
                                   "cooccurrence:light.hall|light.kitchen"]),
    ({"entity": "light.hall"}, ["cooccurrence:light.hall|light.kitchen"]),
    ({"min_confidence": 0.8}, ["time_of_day:light.kitchen|on"]),
    ({"min_confidence": 0}, ["time_of_day:light.kitchen|on",
                             "cooccurrence:light.hall|light.kitchen"]),
    ({"type": "time_of_day", "entity": "light.hall"}, []),
    ({"type": "seasonal"}, []),
])
def test_filters(app: FastAPI, client: TestClient, params: dict[str, Any],
                 expected: list[str]) -> None:
    store_patterns(app, STORED)
    body = listed(client, **params)
    assert [p["pattern_id"] for p in body["patterns"]] == expected
    assert body["count"] == len(expected)


@pytest.mark.parametrize(("params", "field", "says"), [
    ({"type": "nope"}, "type", "type must be one of time_of_day, "),
    ({"min_confidence": 1.5}, "min_confidence", "between 0 and 1"),
    ({"min_confidence": -0.1}, "min_confidence", "between 0 and 1"),
    ({"min_confidence": "nan"}, "min_confidence", "between 0 and 1"),
    ({"min_confidence": "high"}, "min_confidence", "min_confidence"),
])
def test_bad_parameters_are_422_naming_the_field(client: TestClient, params: dict[str, Any],
                                                 field: str, says: str) -> None:
    response = client.get(PATTERNS, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert says in response.json()["error"]


def test_the_type_error_lists_every_known_type(client: TestClient) -> None:
    error = client.get(PATTERNS, params={"type": "routine"}).json()["error"]
    for name in ("time_of_day", "cooccurrence", "sequence", "duration", "session", "area",
                 "day_type", "seasonal"):
        assert name in error


def test_a_new_detection_is_served_at_once(app: FastAPI, client: TestClient) -> None:
    store_patterns(app, STORED)
    assert listed(client)["count"] == 2  # cached now
    store_patterns(app, STORED[1:], NOW + dt.timedelta(days=1))
    body = listed(client)
    assert [p["pattern_id"] for p in body["patterns"]] == [
        "cooccurrence:light.hall|light.kitchen"]
    assert body["patterns"][0]["detected_at"] == "2026-04-01T03:15:00Z"


def test_reading_needs_a_read_key_once_keys_exist(app: FastAPI, client: TestClient) -> None:
    store_patterns(app, STORED)
    key = add_key(app, "read")
    assert client.get(PATTERNS).status_code == 401
    assert client.get(PATTERNS, headers={"Authorization": "Bearer nope"}).status_code == 401
    response = client.get(PATTERNS, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200 and response.json()["count"] == 2
    ingest = add_key(app, "ingest")
    assert client.get(PATTERNS, headers={"Authorization": f"Bearer {ingest}"}
                      ).status_code == 200


def test_the_patterns_job_is_listed_run_and_counted(app: FastAPI, client: TestClient) -> None:
    assert app.state.jobs.wait_idle(30)
    jobs = {job["name"]: job for job in client.get("/api/v1/jobs").json()["jobs"]}
    assert list(jobs) == ["daily", "weekly", "monthly", "patterns", "retention"]
    assert jobs["patterns"]["cron"] == "15 3 * * *"
    assert jobs["patterns"]["runs"] == 1  # the catch-up at start, after the daily job
    assert jobs["patterns"]["last_outcome"] == "ok", jobs["patterns"]
    store_patterns(app, STORED)
    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    assert client.post("/api/v1/events", json=event(ts=f"{yesterday}T06:40:00Z")
                       ).status_code == 200

    runs = metric_value(client, 'vigil_job_runs_total{job="patterns"}')
    response = client.post("/api/v1/jobs/patterns/run")
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["job"] == "patterns" and report["periods"] == [yesterday.isoformat()]
    assert report["rows_written"] == 0  # no summaries: the old patterns are replaced by none
    assert any("no daily summaries" in note for note in report["notes"])
    assert listed(client)["count"] == 0
    assert metric_value(client, 'vigil_job_runs_total{job="patterns"}') == runs + 1
    assert metric_value(client, 'vigil_job_last_rows{job="patterns",kind="written"}') == 0


# -- paging and facets ------------------------------------------------------------------------

KINDS = ("time_of_day", "cooccurrence", "sequence", "duration")
NAMES = ("light.hall", "light.kitchen", "switch.kettle", "binary_sensor.door", 'odd "name"')


def many_patterns(n: int = 23) -> list[Pattern]:
    """``n`` patterns of several types and entities, with tied confidences (ids break ties)."""
    found = []
    for i in range(n):
        names = tuple(NAMES[(i + j) % len(NAMES)] for j in range(1 + i % 3))
        found.append(Pattern(
            type=KINDS[i % len(KINDS)], key=f"p{i:02d}", entities=names,
            confidence=round(0.3 + (i % 5) * 0.15, 2), description=f"pattern {i}",
            evidence={"days_observed": 5 + i}, first_seen=D, last_seen=D))
    return found


def paged(client: TestClient, limit: int, **params: Any) -> tuple[list[str], list[int]]:
    """Every page from offset 0 on, following ``next_offset``: the ids and the totals."""
    ids: list[str] = []
    totals: list[int] = []
    offset: int | None = 0
    while offset is not None:
        body = listed(client, limit=limit, offset=offset, **params)
        assert body["count"] == len(body["patterns"]) <= limit
        ids += [p["pattern_id"] for p in body["patterns"]]
        totals.append(body["total"])
        offset = body["next_offset"]
        assert offset is None or offset == len(ids)
    return ids, totals


@pytest.mark.parametrize("params", [{}, {"type": "sequence"}, {"entity": "light.kitchen"},
                                    {"entity": 'odd "name"', "min_confidence": 0.5}])
def test_pages_cover_every_pattern_once_in_order(app: FastAPI, client: TestClient,
                                                  params: dict[str, Any]) -> None:
    store_patterns(app, many_patterns())
    whole = listed(client, **params)
    expected = [p["pattern_id"] for p in whole["patterns"]]
    assert whole["total"] == whole["count"] == len(expected) and whole["next_offset"] is None
    assert 0 < len(expected) and len(set(expected)) == len(expected)
    order = [(-p["confidence"], p["pattern_id"]) for p in whole["patterns"]]
    assert order == sorted(order)
    for limit in (1, 4, len(expected), 1000):
        ids, totals = paged(client, limit, **params)
        assert ids == expected
        assert set(totals) == {len(expected)}


def test_a_page_says_total_and_next_offset(app: FastAPI, client: TestClient) -> None:
    store_patterns(app, many_patterns(23))
    first = listed(client, limit=10)
    assert (first["count"], first["total"], first["next_offset"]) == (10, 23, 10)
    last = listed(client, limit=10, offset=20)
    assert (last["count"], last["total"], last["next_offset"]) == (3, 23, None)
    exact = listed(client, limit=10, offset=13)
    assert (exact["count"], exact["total"], exact["next_offset"]) == (10, 23, None)
    beyond = listed(client, limit=10, offset=40)
    assert (beyond["patterns"], beyond["total"], beyond["next_offset"]) == ([], 23, None)
    rest = listed(client, offset=20)  # no limit: everything after the offset
    assert (rest["count"], rest["total"], rest["next_offset"]) == (3, 23, None)
    assert listed(client, offset=30)["total"] == 23


def test_a_cached_page_follows_a_new_detection(app: FastAPI, client: TestClient) -> None:
    store_patterns(app, many_patterns(23))
    assert listed(client, limit=5, offset=5)["total"] == 23
    store_patterns(app, many_patterns(7), NOW + dt.timedelta(days=1))
    body = listed(client, limit=5, offset=5)
    assert (body["count"], body["total"], body["next_offset"]) == (2, 7, None)


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"limit": -3}, "limit"),
    ({"limit": "ten"}, "limit"), ({"offset": -1}, "offset"), ({"offset": "x"}, "offset"),
    ({"limit": 10, "offset": -5}, "offset"),
])
def test_a_bad_page_is_422_naming_the_field(client: TestClient, params: dict[str, Any],
                                            field: str) -> None:
    response = client.get(PATTERNS, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert field in response.json()["error"]


def expected_facets(patterns: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    types: dict[str, int] = {}
    entities: dict[str, int] = {}
    for p in patterns:
        types[p["type"]] = types.get(p["type"], 0) + 1
        for name in set(p["entities"]):
            entities[name] = entities.get(name, 0) + 1
    return {"types": types, "entities": entities}


@pytest.mark.parametrize("least", [None, 0.5, 0.9, 1.0])
def test_facets_count_the_full_list(app: FastAPI, client: TestClient,
                                    least: float | None) -> None:
    store_patterns(app, many_patterns())
    params = {} if least is None else {"min_confidence": least}
    response = client.get(f"{PATTERNS}/facets", params=params)
    assert response.status_code == 200, response.text
    facets = response.json()
    assert facets == expected_facets(listed(client, **params)["patterns"])
    counts = list(facets["types"].values())
    assert counts == sorted(counts, reverse=True)
    for name, n in facets["entities"].items():
        assert listed(client, entity=name, **params)["total"] == n
    if least == 1.0:
        assert facets == {"types": {}, "entities": {}}


def test_facets_check_the_confidence_and_the_key(app: FastAPI, client: TestClient) -> None:
    response = client.get(f"{PATTERNS}/facets", params={"min_confidence": 2})
    assert response.status_code == 422 and response.json()["field"] == "min_confidence"
    store_patterns(app, STORED)
    key = add_key(app, "read")
    assert client.get(f"{PATTERNS}/facets").status_code == 401
    response = client.get(f"{PATTERNS}/facets", headers={"Authorization": f"Bearer {key}"})
    assert response.json() == {"types": {"time_of_day": 1, "cooccurrence": 1},
                               "entities": {"light.kitchen": 2, "light.hall": 1}}
