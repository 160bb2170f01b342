"""Fixtures of the ingest tests: a file ingester into the shared ``store`` fixture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vigil.ingest.files import FileOptions, ingest_file
from vigil.store import Store

from .helpers import IngestText, Report


@pytest.fixture
def ingest_text(tmp_path: Path, store: Store) -> IngestText:
    """Write ``content`` (text or bytes, byte for byte) as a file and ingest it into ``store``."""
    counter = iter(range(1_000_000))

    def run(content: str | bytes, suffix: str = ".csv", **options: Any) -> Report:
        path = tmp_path / f"input-{next(counter)}{suffix}"
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return ingest_file(path, store.insert_events, FileOptions(**options)).to_dict()

    return run
