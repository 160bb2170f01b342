"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from vigil.store import Store, open_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A real DuckDB store in a fresh temp dir, closed afterwards."""
    opened = open_store(str(tmp_path / "vigil.duckdb"))
    try:
        yield opened
    finally:
        opened.close()
