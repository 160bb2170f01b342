"""Aggregate stores on real backends: SQL on DuckDB, SQL on PostgreSQL, and InfluxDB.

Each test gets an empty store: a new DuckDB file, a fresh PostgreSQL database, or a new
InfluxDB database on the session's ``influxd`` (dropped afterwards).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from vigil.rollup import InfluxAggregateStore, InfluxSettings, SqlAggregateStore
from vigil.rollup.aggregates import AggregateStore
from vigil.rollup.influx_aggregates import bucket_seconds, policy_name
from vigil.rollup.lineprotocol import quote_string
from vigil.store import Store, open_store

KINDS = ("sql-duckdb", "sql-postgres", "influxdb")
TODAY = dt.datetime.now(dt.UTC).date()
"""Buckets are placed relative to the real date: InfluxDB applies retention by its clock."""


def no_sleep(seconds: float) -> None:
    """Tests do not wait between retries."""


def influx_store(url: str, database: str, **options: Any) -> InfluxAggregateStore:
    """An InfluxDB aggregate store that does not sleep between attempts."""
    return InfluxAggregateStore(InfluxSettings(url, database), sleep=no_sleep, **options)


def drop_influx_database(url: str, database: str) -> None:
    response = httpx.post(f"{url}/query", data={"q": f'DROP DATABASE "{database}"'})
    assert response.status_code == 200, response.text


def new_database_name() -> str:
    return f"t_{uuid.uuid4().hex[:16]}"


@dataclass
class Backend:
    """A store under test and how to reach what lies underneath it."""

    kind: str
    store: AggregateStore
    main: Store | None = None
    influx_url: str | None = None
    database: str | None = None

    def write_corrupt(self, detector: str, entity: str, bucket: dt.date, field: str,
                      text: str) -> None:
        """Store ``text`` as the JSON of ``field`` of a daily record, bypassing the store."""
        if self.main is not None:
            with self.main.transaction():
                self.main._write(  # type: ignore[attr-defined]
                    "UPDATE aggregates SET fields = ? WHERE layer = 'daily' AND detector = ? "
                    "AND entity = ? AND bucket = ?",
                    [f'{{"{field}__json": {quote_string(text)}, "n": 1}}', detector, entity,
                     bucket])
            return
        assert self.influx_url is not None and self.database is not None
        line = (f"{detector},entity={entity},layer=daily {field}__json={quote_string(text)} "
                f"{bucket_seconds(bucket)}")
        response = httpx.post(f"{self.influx_url}/write", content=line.encode(),
                              params={"db": self.database, "rp": policy_name("daily"),
                                      "precision": "s"})
        assert response.status_code == 204, response.text


@pytest.fixture(params=KINDS)
def agg_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """An empty aggregate store of each kind."""
    kind = str(request.param)
    if kind == "influxdb":
        server = request.getfixturevalue("influx_server")
        database = new_database_name()
        store = influx_store(server.url, database)
        try:
            yield Backend(kind, store, influx_url=server.url, database=database)
        finally:
            store.close()
            drop_influx_database(server.url, database)
        return
    url = (str(tmp_path / "v.duckdb") if kind == "sql-duckdb"
           else str(request.getfixturevalue("pg_url")))
    main = open_store(url)
    try:
        yield Backend(kind, SqlAggregateStore(main), main=main)
    finally:
        main.close()
