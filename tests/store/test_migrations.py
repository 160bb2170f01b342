"""Schema migrations: the recorded head matches Alembic's, and opening is idempotent."""

from __future__ import annotations

from pathlib import Path

import duckdb

from vigil.store import open_store
from vigil.store.migrations.runner import HEAD_REVISION, head_revision


def test_head_constant_matches_alembic_scripts() -> None:
    assert head_revision() == HEAD_REVISION


def test_new_file_is_migrated_to_head_and_reopening_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    store = open_store(str(path))
    store.set_source_timezone("cam", "Europe/Berlin")
    store.close()
    con = duckdb.connect(str(path))
    try:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                  .fetchall()}
    finally:
        con.close()
    assert {"events", "sources", "hourly_counts", "api_keys", "uploads", "sessions"} <= tables
    reopened = open_store(str(path))
    try:
        assert reopened.source_timezones() == {"cam": "Europe/Berlin"}
    finally:
        reopened.close()
