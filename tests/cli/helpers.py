"""Helpers of the CLI tests."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vigil.store import DuckDBStore

VIGIL = Path(sys.executable).with_name("vigil")


def event_count(db: Path) -> int:
    """Events stored in ``db`` (0 when the file does not exist)."""
    if not db.exists():
        return 0
    store = DuckDBStore(db)
    try:
        return store.count_events()
    finally:
        store.close()


def error_lines(stderr: str) -> list[str]:
    """The non-empty lines a command wrote to stderr."""
    return [line for line in stderr.splitlines() if line.strip()]


def clean_env() -> dict[str, str]:
    """The environment for a ``vigil`` subprocess: no VIGIL_* settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
