"""Fixtures of the API tests: a real store per test (DuckDB and PostgreSQL) and the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.api import create_app
from vigil.config import Settings, load_settings


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return load_settings(db=store_url, upload_dir=str(tmp_path / "up"))


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as opened:
        yield opened
