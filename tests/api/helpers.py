"""Helpers shared by the API tests: events, keys, polling uploads."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.api import create_app
from vigil.config import load_settings
from vigil.keys import hash_key, new_key

EVENTS = "/api/v1/events"


def event(camera: str = "cam1", ts: str = "2026-03-22T10:00:00Z", **extra: Any) -> dict[str, Any]:
    """A valid detection event; ``extra`` overrides or adds fields."""
    return {"camera_id": camera, "event_type": "detection", "timestamp": ts, "label": "person",
            "confidence": 0.9, **extra}


def add_key(app: FastAPI, scope: str, name: str | None = None) -> str:
    """Create an API key of ``scope`` in the running app's store; returns the secret key."""
    key_id, key = new_key()
    app.state.vigil.writer.run(lambda store: store.add_api_key(key_id, hash_key(key), scope,
                                                                name))
    return key


def all_events(client: TestClient, headers: dict[str, str] | None = None,
               **params: Any) -> list[dict[str, Any]]:
    """Every event matching ``params``, walking the cursor pages."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = {**params, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        response = client.get(EVENTS, params=query, headers=headers or {})
        assert response.status_code == 200, response.text
        body = response.json()
        found.extend(body["events"])
        cursor = body["next_cursor"]
        if cursor is None:
            return found


def wait_upload(client: TestClient, upload_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """Poll an upload until it is ``done`` or ``failed``; returns its last state."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(f"/api/v1/uploads/{upload_id}")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["status"] in ("queued", "processing", "done", "failed"), body
        if body["status"] in ("done", "failed"):
            return body
        assert time.monotonic() < deadline, f"upload still {body['status']} after {timeout}s"
        time.sleep(0.05)


@contextmanager
def quiet_service(store_url: str, tmp_path: Path) -> Iterator[TestClient]:
    """The service with neither the anomaly detector nor the scheduled jobs committing in
    the background (each commit empties the analytics cache)."""
    settings = load_settings(db=store_url, upload_dir=str(tmp_path / "up"),
                             detect_anomalies=False, scheduler=False)
    with TestClient(create_app(settings)) as opened:
        yield opened
