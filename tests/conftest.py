"""Fixtures shared by every test package.

``store_url`` (and so ``store``) is parametrised over the two backends: each test that uses
it runs on a DuckDB file and on a PostgreSQL database of a throwaway cluster.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from vigil.store import Store, open_store

pytest_plugins = ["servers"]  # the real-server fixtures: postgres_server, redis_server, ...

BACKENDS = ("duckdb", "postgres")
TEMPLATE_DB = "vigil_template"
DATA_TABLES = "events, hourly_counts, sources, api_keys, uploads, dead_letters"
StoreFactory = Callable[[], Store]


@pytest.fixture(scope="session")
def pg_template(postgres_server: Any) -> str:
    """A database migrated once; each test's database is a copy of it (fast)."""
    with psycopg.connect(postgres_server.url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    url = _database_url(postgres_server.url, TEMPLATE_DB)
    open_store(url).close()
    return url


@pytest.fixture
def pg_url(postgres_server: Any, pg_template: str) -> Iterator[str]:
    """URL of a fresh, migrated, empty database for this test; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(postgres_server.url, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB}")
    try:
        yield _database_url(postgres_server.url, name)
    finally:
        with psycopg.connect(postgres_server.url, autocommit=True) as con:
            con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _database_url(server_url: str, name: str) -> str:
    return server_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend a parametrised test runs on."""
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """Where a fresh store lives: a DuckDB file path or a PostgreSQL URL."""
    if backend == "duckdb":
        return str(tmp_path / "vigil.duckdb")
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """A real store on a fresh database, closed afterwards."""
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def store_factory(store_url: str, backend: str, tmp_path: Path) -> StoreFactory:
    """Open an empty store each call (for property tests: one per example).

    Each DuckDB store is a new file; on PostgreSQL the test's database is emptied.
    """
    def fresh() -> Store:
        if backend == "duckdb":
            return open_store(str(tmp_path / f"{uuid.uuid4().hex}.duckdb"))
        with psycopg.connect(store_url, autocommit=True) as con:
            con.execute(f"TRUNCATE {DATA_TABLES}")
        return open_store(store_url)

    return fresh

