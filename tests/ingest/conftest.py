"""Fixtures of the ingest tests: a real DuckDB store in a temp dir, a file ingester."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vigil.ingest.files import FileOptions, ingest_file
from vigil.store import Store, open_store

from .helpers import IngestText, Report


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(str(tmp_path / "vigil.duckdb"))
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def ingest_text(tmp_path: Path, store: Store) -> IngestText:
    """Write ``content`` (text or bytes, byte for byte) as a file and ingest it into ``store``."""
    counter = iter(range(1_000_000))

    def run(content: str | bytes, suffix: str = ".csv", **options: Any) -> Report:
        path = tmp_path / f"input-{next(counter)}{suffix}"
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return ingest_file(path, store.insert_events, FileOptions(**options)).to_dict()

    return run
