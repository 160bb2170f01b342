"""Counts of anomalies by status for the listing's filters (``filtered_counts``) beside the
counts of all anomalies (``counts``): expected numbers are counted here from the stored
anomalies and the statuses set through the API."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from vigil.api import create_app
from vigil.config import load_settings
from vigil.store.anomalies import NewAnomaly

ANOMALIES = "/api/v1/anomalies"
T0 = dt.datetime(2026, 3, 2, 0, 0, tzinfo=dt.UTC)
SOURCES = ("yard", "door", "gate")
TYPES = ("rare_time", "novel_object", "spike", "silence")
LABELS = ("person", "car", None)
SEVERITIES = ("low", "medium", "high")
RANK = {s: i for i, s in enumerate(SEVERITIES)}
STATUSES = ("open", "acknowledged", "false_positive")


def made(i: int) -> NewAnomaly:
    """The ``i``-th anomaly: sources, types, labels and severities cycle at different
    rates; windows start every 5 hours and last 0 to 3 hours."""
    start = T0 + dt.timedelta(hours=5 * i)
    return NewAnomaly(
        source_id=SOURCES[i % 3], anomaly_type=TYPES[i % 4], label=LABELS[(i // 3) % 3],
        event_id=f"e{i}", window_start=start, window_end=start + dt.timedelta(hours=i % 4),
        local_date=start.date(), local_weekday=start.weekday(), local_hour=start.hour,
        score=0.5 + i / 100, severity=SEVERITIES[(i // 2) % 3], explanation=f"anomaly {i}",
        components={}, pattern_key=f"key-{i}")


ITEMS = [made(i) for i in range(30)]


def status_of(i: int) -> str:
    return STATUSES[0] if i % 5 in (0, 1) else STATUSES[1 + i % 2]


@pytest.fixture
def stored(store_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[int, int]]]:
    """The service with the anomalies stored and their statuses set through the API;
    yields the client and ``anomaly id -> index``."""
    settings = load_settings(db=store_url, upload_dir=str(tmp_path / "up"),
                             detect_anomalies=False, scheduler=False)
    with TestClient(create_app(settings)) as client:
        writer = client.app.state.vigil.writer  # type: ignore[attr-defined]
        saved = writer.run(lambda store: store.save_anomalies(ITEMS, T0))
        index = {s.anomaly_id: i for i, s in enumerate(saved)}
        for anomaly_id, i in index.items():
            action = {"acknowledged": "ack", "false_positive": "false-positive"}.get(
                status_of(i))
            if action:
                response = client.post(f"{ANOMALIES}/{anomaly_id}/{action}")
                assert response.status_code == 200, response.text
        yield client, index


def matches(i: int, params: dict[str, Any]) -> bool:
    """Whether anomaly ``i`` matches the request's filters (``status`` left out)."""
    item = ITEMS[i]
    sources = params.get("source_id")
    wanted = [sources] if isinstance(sources, str) else sources
    return ((not wanted or item.source_id in wanted)
            and params.get("type") in (None, item.anomaly_type)
            and params.get("label") in (None, item.label)
            and RANK[item.severity] >= RANK[params.get("severity", "low")]
            and ("start" not in params or item.window_end >= params["start"])
            and ("end" not in params or item.window_start < params["end"]))


FILTERS: list[dict[str, Any]] = [
    {},
    {"source_id": "yard"},
    {"source_id": ["yard", "gate"]},
    {"type": "spike", "severity": "medium"},
    {"label": "car", "status": "open"},
    {"severity": "high", "status": "false_positive"},
    {"start": T0 + dt.timedelta(hours=40), "end": T0 + dt.timedelta(hours=90)},
    {"source_id": "door", "type": "rare_time", "start": T0 + dt.timedelta(hours=12),
     "status": "acknowledged"},
    {"source_id": "nowhere"},
]


@pytest.mark.parametrize("params", FILTERS)
def test_filtered_counts_follow_every_filter_but_status(
        stored: tuple[TestClient, dict[int, int]], params: dict[str, Any]) -> None:
    client, index = stored
    query = {k: v.isoformat() if isinstance(v, dt.datetime) else v for k, v in params.items()}
    body = client.get(ANOMALIES, params={**query, "limit": 1000}).json()
    chosen = Counter(status_of(i) for i in range(len(ITEMS)) if matches(i, params))
    assert body["filtered_counts"] == {s: chosen[s] for s in STATUSES}
    assert body["counts"] == dict(Counter(status_of(i) for i in range(len(ITEMS))))
    listed = [index[a["anomaly_id"]] for a in body["anomalies"]]
    shown = [s for s in STATUSES if params.get("status") in (None, s)]
    assert len(listed) == sum(body["filtered_counts"][s] for s in shown)
    assert all(matches(i, params) and status_of(i) in shown for i in listed)


def test_filtered_counts_follow_a_status_change(
        stored: tuple[TestClient, dict[int, int]]) -> None:
    client, index = stored
    params = {"source_id": "yard", "status": "open"}
    before = client.get(ANOMALIES, params=params).json()["filtered_counts"]
    chosen = next(a for a, i in index.items() if ITEMS[i].source_id == "yard"
                  and status_of(i) == "open")
    assert client.post(f"{ANOMALIES}/{chosen}/ack").status_code == 200
    after = client.get(ANOMALIES, params=params).json()["filtered_counts"]
    assert after == {**before, "open": before["open"] - 1,
                     "acknowledged": before["acknowledged"] + 1}
