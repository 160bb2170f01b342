"""Two workers on one PostgreSQL database share their cache through Redis.

A result cached by one worker is invalidated by a commit in the other, exactly as the
in-process cache is by a commit in its own process.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import redis
from fastapi.testclient import TestClient

from vigil.api import create_app
from vigil.config import load_settings

from .helpers import EVENTS, event


def counts(client: TestClient) -> dict[str, int]:
    response = client.get("/api/v1/sources")
    assert response.status_code == 200, response.text
    return {s["source_id"]: s["event_count"] for s in response.json()["sources"]}


def test_a_commit_in_one_worker_invalidates_the_other(pg_url: str, redis_server: Any,
                                                      tmp_path: Path) -> None:
    redis_url = redis_server.url
    with redis.Redis.from_url(redis_url) as admin:
        admin.flushdb()
    make = lambda name: create_app(load_settings(  # noqa: E731
        db=pg_url, redis_url=redis_url, upload_dir=str(tmp_path / name)))
    with TestClient(make("a")) as worker_a, TestClient(make("b")) as worker_b:
        assert worker_a.post(EVENTS, json=event("porch")).json()["accepted"] == 1
        assert counts(worker_a) == {"porch": 1}  # computed and cached by worker a
        assert counts(worker_b) == {"porch": 1}  # a hit in the shared cache
        later = event("porch", ts="2026-03-22T11:00:00Z", event_id=uuid.uuid4().hex)
        assert worker_b.post(EVENTS, json=later).json()["accepted"] == 1
        assert counts(worker_a) == {"porch": 2}  # worker b's commit ended the cached result
        with redis.Redis.from_url(redis_url) as admin:
            assert int(admin.get("vigil:cache:generation") or 0) >= 2


def test_in_process_cache_follows_new_data(client: TestClient) -> None:
    assert client.post(EVENTS, json=event("yard")).json()["accepted"] == 1
    assert counts(client) == {"yard": 1}
    assert client.post(EVENTS, json=event("yard", ts="2026-03-22T12:00:00Z")).status_code == 200
    assert counts(client) == {"yard": 2}


def test_redis_gone_serves_uncached(pg_url: str, tmp_path: Path) -> None:
    dead = "redis://127.0.0.1:1/0"  # nothing listens there
    settings = load_settings(db=pg_url, redis_url=dead, upload_dir=str(tmp_path / "up"))
    with TestClient(create_app(settings)) as client:
        assert client.post(EVENTS, json=event("gate")).json()["accepted"] == 1
        assert counts(client) == {"gate": 1}
        assert client.post(EVENTS, json=event("gate", ts="2026-03-22T13:00:00Z")
                           ).status_code == 200
        assert counts(client) == {"gate": 2}
        metrics = client.get("/metrics").text
        assert "vigil_cache_errors_total" in metrics
