"""``vigil export`` / ``vigil import`` carry the SQL aggregate store's records both ways."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from vigil.rollup import AggregateRecord, SqlAggregateStore
from vigil.store import open_store
from vigil.store.transfer import export_store, import_store

RECORDS = [
    AggregateRecord("daily", "hourly_counts", "cam 1", dt.date(2026, 3, 1),
                    {"n": 3, "hist": [0, 1, {"x": "ü"}], "label": 'say "hi", ok'}),
    AggregateRecord("monthly", "sequences", "door=front", dt.date(2026, 3, 1),
                    {"support": 0.25, "top": "door>hall", "ok": True}),
]


def test_aggregates_move_between_duckdb_and_postgres(tmp_path: Path, pg_url: str) -> None:
    source = open_store(str(tmp_path / "source.duckdb"))
    try:
        SqlAggregateStore(source).write_batch(RECORDS)
        assert export_store(source, tmp_path / "one").rows["aggregates"] == 2
    finally:
        source.close()
    middle = open_store(pg_url)
    try:
        assert import_store(middle, tmp_path / "one").rows["aggregates"] == 2
        assert SqlAggregateStore(middle).query(dt.date(2026, 3, 1), dt.date(2026, 3, 1)) == [
            RECORDS[0]]
        export_store(middle, tmp_path / "two")
    finally:
        middle.close()
    back = open_store(str(tmp_path / "back.duckdb"))
    try:
        import_store(back, tmp_path / "two")
        store = SqlAggregateStore(back)
        assert store.query(dt.date(2026, 3, 1), dt.date(2026, 3, 1), layer="monthly") == [
            RECORDS[1]]
        assert store.aggregate(dt.date(2026, 3, 1), dt.date(2026, 3, 1), "n", "sum") == 3.0
    finally:
        back.close()
