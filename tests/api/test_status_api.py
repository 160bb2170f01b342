"""``GET /api/v1/status`` on the real app: ingest counters and rate, rejections by reason,
jobs, the alert-delivery backlog, MQTT ingest, keys. The counters are process-wide, so the
tests compare before and after."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.api import create_app
from vigil.config import Settings, load_settings
from vigil.rollup.summaries import temporarily_registered
from vigil.store.alerts import DeliveryOutcome, NewDelivery

from .helpers import EVENTS, add_key, event
from .test_jobs_api import Failing, idle, post_old_events

STATUS = "/api/v1/status"


def status(client: TestClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.get(STATUS, headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_ingest_counts_and_rate_follow_posted_events(client: TestClient) -> None:
    before = status(client)["ingest"]
    items = [event(ts=f"2026-03-22T10:0{i}:00Z") for i in range(6)]
    response = client.post(EVENTS, json=[*items, event(confidence=3.0)])
    assert response.json()["accepted"] == 6
    assert client.post(EVENTS, json=items[:2]).json()["duplicates"] == 2
    body = status(client)
    after = body["ingest"]

    assert after["events_total"] - before["events_total"] == 6
    assert after["duplicates_total"] - before["duplicates_total"] == 2
    assert after["rejected_total"] - before["rejected_total"] == 1
    reason = "confidence_out_of_range"
    assert (after["rejected_by_reason"][reason]
            - before["rejected_by_reason"].get(reason, 0)) == 1
    assert after["per_minute"] > 0 and after["last_minute"] >= 6
    assert after["write_queue_depth"] == 0 and after["uploads_active"] == 0
    assert after["dead_letters"] == 0 and after["mqtt_connected"] is None
    now = dt.datetime.fromisoformat(body["now"])
    assert body["now"].endswith("Z") and abs(now - dt.datetime.now(dt.UTC)).total_seconds() < 60
    assert body["uptime_s"] > 0 and body["version"]
    assert body["store"] in ("DuckDBStore", "PostgresStore")


def test_the_delivery_backlog_and_anomaly_counts(app: FastAPI, client: TestClient) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)  # not due: the dispatcher waits
    items = [NewDelivery(anomaly_id=n, rule_id="r", sink="webhook", payload={"n": n})
             for n in range(4)]
    ids = app.state.vigil.writer.run(lambda store: store.enqueue_deliveries(items, later))
    outcomes = [DeliveryOutcome(delivery_id=ids[0], ok=True, status_code=200, error=None,
                                next_attempt_at=None),
                DeliveryOutcome(delivery_id=ids[1], ok=False, status_code=400,
                                error="HTTP 400", next_attempt_at=None)]
    for outcome in outcomes:
        app.state.vigil.writer.run(lambda store, o=outcome: store.record_delivery(o, later))
    body = status(client)
    assert body["sinks"] == {"pending": 2, "delivered": 1, "failed": 1}
    assert body["anomalies"] == {"open": 0, "acknowledged": 0, "false_positive": 0}


def test_jobs_are_listed_with_their_last_outcome(app: FastAPI, client: TestClient) -> None:
    idle(app)
    post_old_events(client)
    with temporarily_registered(Failing()):
        assert client.post("/api/v1/jobs/daily/run").status_code == 500
    assert client.post("/api/v1/jobs/retention/run").status_code == 200
    jobs = status(client)["jobs"]
    assert jobs["scheduler"] == "running" and jobs["timezone"] == "UTC"
    listed = {job["name"]: job for job in jobs["jobs"]}
    full = client.get("/api/v1/jobs").json()["jobs"]
    assert list(listed) == [job["name"] for job in full]
    daily, retention = listed["daily"], listed["retention"]
    assert daily["last_outcome"] == "failed" and daily["failures"] == 1
    assert daily["last_error"].startswith("RuntimeError: summary of")
    assert daily["last_error_at"] and daily["next_run"]
    assert retention["last_outcome"] == "ok" and retention["runs"] == 1
    assert retention["last_success_at"] and retention["last_success_duration_s"] >= 0
    assert retention["last_error"] is None and retention["running"] is False


def test_needs_a_read_key_once_keys_exist(app: FastAPI, client: TestClient) -> None:
    reader = add_key(app, "read")
    response = client.get(STATUS)
    assert response.status_code == 401 and response.json()["field"] == "authorization"
    assert status(client, {"Authorization": f"Bearer {reader}"})["ingest"]["dead_letters"] == 0


def test_mqtt_ingest_shows_as_connected(mosquitto_server: Any, tmp_path: Path) -> None:
    tag = uuid.uuid4().hex[:12]
    settings: Settings = load_settings(
        db=str(tmp_path / "vigil.duckdb"), upload_dir=str(tmp_path / "up"),
        mqtt_url=mosquitto_server.url, mqtt_frigate_topic=f"test/{tag}/frigate",
        mqtt_events_topic=f"test/{tag}/events", mqtt_share_group=f"g{tag}",
        mqtt_client_id=f"status-{tag}")
    app = create_app(settings)
    with TestClient(app) as client:
        assert app.state.vigil.mqtt.wait_subscribed(10)
        assert status(client)["ingest"]["mqtt_connected"] is True
        mosquitto_server.halt()
        try:
            deadline = time.monotonic() + 10
            while status(client)["ingest"]["mqtt_connected"]:
                assert time.monotonic() < deadline, "still connected after the broker stopped"
                time.sleep(0.05)
        finally:
            mosquitto_server.start()
