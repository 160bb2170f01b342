"""Fixtures of the store tests: a real DuckDB store in a temp dir."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "vigil.duckdb"))
    try:
        yield opened
    finally:
        opened.close()
