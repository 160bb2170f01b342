"""Fixtures of the CLI tests: a runner, a temp working directory and database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from vigil.cli.main import app

Invoke = Callable[..., Result]


@pytest.fixture(autouse=True)
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run every command in a throwaway directory with no VIGIL_* settings."""
    for name in ("VIGIL_DB", "VIGIL_UPLOAD_DIR", "VIGIL_HOST", "VIGIL_PORT",
                 "VIGIL_DEFAULT_TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.duckdb"


@pytest.fixture
def vigil() -> Invoke:
    """``vigil(*args)``: run the command line in-process; stdout and stderr kept apart."""
    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    return invoke
