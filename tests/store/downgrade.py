"""Setting a test database back to an older schema revision by hand (for upgrade tests)."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import psycopg


def run_statements(store_url: str, backend: str, statements: Sequence[str]) -> None:
    """Run ``statements`` directly on the closed store's database (DuckDB file or
    PostgreSQL URL), each on its own."""
    if backend == "duckdb":
        con = duckdb.connect(store_url)
        try:
            for statement in statements:
                con.execute(statement)
        finally:
            con.close()
    else:
        with psycopg.connect(store_url, autocommit=True) as pg:
            for statement in statements:
                pg.execute(statement)
