"""``GET /api/v1/aggregates``: records of a range in pages, or one sum / mean / count, from
the SQL aggregate store (DuckDB and PostgreSQL) and from InfluxDB; bad requests name the
field."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from servers import free_port
from vigil.api import create_app
from vigil.config import load_settings
from vigil.rollup import AggregateRecord, InfluxAggregateStore, SqlAggregateStore

from .helpers import add_key

AGGREGATES = "/api/v1/aggregates"
TODAY = dt.datetime.now(dt.UTC).date()  # InfluxDB applies retention by the real clock
DAYS = [TODAY - dt.timedelta(days=d) for d in range(6, 0, -1)]
RECORDS = [AggregateRecord("daily", "hourly_counts", cam, day,
                           {"n": i + 1, "hist": [i, 0], "label": "x"})
           for i, day in enumerate(DAYS) for cam in ("cam1", "cam2")]


def write(client: TestClient, records: list[AggregateRecord]) -> None:
    """Write through the service's writer (the one that owns the store)."""
    state = client.app.state.vigil  # type: ignore[attr-defined]
    state.writer.run(lambda store: SqlAggregateStore(store).write_batch(records))


def get(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(AGGREGATES, params={"from": DAYS[0].isoformat(),
                                              "to": DAYS[-1].isoformat(), **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_records_in_pages_and_filtered(client: TestClient) -> None:
    write(client, RECORDS)
    body = get(client)
    assert body["next_offset"] is None and body["layer"] == "daily"
    assert [(r["bucket"], r["entity"]) for r in body["records"]] == [
        (day.isoformat(), cam) for day in DAYS for cam in ("cam1", "cam2")]
    assert body["records"][0]["fields"] == {"n": 1, "hist": [0, 0], "label": "x"}
    pages, offset = [], 0
    while offset is not None:
        page = get(client, limit=5, offset=offset)
        pages.append(len(page["records"]))
        offset = page["next_offset"]
    assert pages == [5, 5, 2]
    only = get(client, entity="cam2", detector="hourly_counts")["records"]
    assert {r["entity"] for r in only} == {"cam2"} and len(only) == 6
    assert get(client, detector="sequences")["records"] == []
    assert get(client, layer="weekly")["records"] == []


def test_sum_mean_and_count(client: TestClient) -> None:
    write(client, RECORDS)
    assert get(client, agg="sum", field="n")["value"] == 42.0
    assert get(client, agg="mean", field="n", entity="cam1")["value"] == 3.5
    assert get(client, agg="count", field="label")["value"] == 12
    assert get(client, agg="sum", field="missing")["value"] is None


def test_errors_name_the_field(client: TestClient) -> None:
    write(client, RECORDS)
    day = DAYS[0].isoformat()
    for params, field in [
        ({"from": "2026-13-01", "to": day}, "from"),
        ({"from": day}, "to"),
        ({"from": day, "to": day, "agg": "median", "field": "n"}, "agg"),
        ({"from": day, "to": day, "layer": "hourly"}, "layer"),
        ({"from": day, "to": day, "agg": "sum"}, "field"),
        ({"from": DAYS[-1].isoformat(), "to": day}, "from"),
        ({"from": day, "to": day, "limit": 5001}, "limit"),
        ({"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat(), "agg": "sum",
          "field": "label"}, "field"),
    ]:
        response = client.get(AGGREGATES, params=params)
        assert response.status_code == 422, (params, response.text)
        assert response.json()["field"] == field, (params, response.json())


def test_needs_a_read_key_once_keys_exist(client: TestClient) -> None:
    key = add_key(client.app, "read")  # type: ignore[arg-type]
    params = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat()}
    assert client.get(AGGREGATES, params=params).status_code == 401
    allowed = client.get(AGGREGATES, params=params, headers={"Authorization": f"Bearer {key}"})
    assert allowed.status_code == 200 and allowed.json()["records"] == []


def test_served_from_influxdb(influx_server: Any, tmp_path: Path) -> None:
    database = f"api_{uuid.uuid4().hex[:12]}"
    settings = load_settings(db=str(tmp_path / "v.duckdb"), upload_dir=str(tmp_path / "up"),
                             aggregates=f"influxdb://127.0.0.1:{influx_server.port}/{database}")
    try:
        with TestClient(create_app(settings)) as client:
            state = client.app.state.vigil  # type: ignore[attr-defined]
            assert isinstance(state.aggregates, InfluxAggregateStore)
            assert state.aggregates.write_batch(RECORDS).written == len(RECORDS)
            assert len(get(client)["records"]) == 12
            assert get(client, agg="sum", field="n", entity="cam2")["value"] == 21.0
        assert state.aggregates is None  # closed at shutdown
    finally:
        httpx.post(f"{influx_server.url}/query", data={"q": f'DROP DATABASE "{database}"'})


def test_unreachable_influxdb_is_a_503(tmp_path: Path) -> None:
    settings = load_settings(db=str(tmp_path / "v.duckdb"), upload_dir=str(tmp_path / "up"),
                             aggregates=f"influxdb://127.0.0.1:{free_port()}/vigil")
    with TestClient(create_app(settings)) as client:
        response = client.get(AGGREGATES, params={"from": DAYS[0].isoformat(),
                                                  "to": DAYS[-1].isoformat()})
    assert response.status_code == 503
    assert "failed after 3 attempts" in response.json()["error"]
