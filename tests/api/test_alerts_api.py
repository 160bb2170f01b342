"""Alert rules over HTTP, and alerts reaching a real webhook receiver from the service."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from monitor.history import after_history, event, history
from monitor.receiver import Receiver
from vigil.anomaly.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from vigil.api import create_app
from vigil.config import load_settings

from .test_anomalies_api import scored

RULES = "/api/v1/alerts/rules"
DELIVERIES = "/api/v1/alerts/deliveries"


def test_rule_crud_and_validation(client: TestClient) -> None:
    created = client.post(RULES, json={"rule_id": "night", "name": "night people",
                                       "min_severity": "high", "schedule": {"hours": "22-6"}})
    assert created.status_code == 201, created.text
    assert created.json()["schedule"]["hours"] == [0, 1, 2, 3, 4, 5, 6, 22, 23]
    again = client.post(RULES, json={"rule_id": "night", "name": "x"})
    assert again.status_code == 409 and again.json()["field"] == "rule_id"
    bad = client.post(RULES, json={"name": "x", "min_severity": "extreme"})
    assert bad.status_code == 422 and bad.json()["field"] == "min_severity"
    unknown = client.post(RULES, json={"name": "x", "colour": "red"})
    assert unknown.status_code == 422 and unknown.json()["field"] == "colour"
    replaced = client.put(f"{RULES}/night", json={"name": "renamed"})
    assert replaced.status_code == 200 and replaced.json()["name"] == "renamed"
    assert [r["name"] for r in client.get(RULES).json()["rules"]] == ["renamed"]
    assert client.delete(f"{RULES}/night").status_code == 204
    missing = client.delete(f"{RULES}/night")
    assert missing.status_code == 404 and missing.json()["field"] == "rule_id"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    opened = Receiver()
    yield opened
    opened.close()


def test_alerts_reach_a_webhook_and_failures_stay_queued(store_url: str, tmp_path: Path,
                                                         receiver: Receiver) -> None:
    settings = load_settings(db=store_url, upload_dir=str(tmp_path / "up"),
                             alert_webhook_url=receiver.url, alert_webhook_secret="k")
    with TestClient(create_app(settings)) as client:
        rule = {"name": "animals", "types": ["novel_object"], "cooldown_seconds": 0}
        assert client.post(RULES, json=rule).status_code == 201
        scored(client, history())
        scored(client, [event("yard", after_history(hours=10.2), "horse", "horse-1")])
        headers, body, alert = receiver.next()
        assert alert["type"] == "novel_object" and alert["rule"]["name"] == "animals"
        assert verify_signature("k", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
        receiver.status = 500  # the receiver breaks: the next alert waits in the queue
        scored(client, [event("yard", after_history(hours=10.4), "zebra", "zebra-1")])
        for _ in range(100):
            pending = client.get(DELIVERIES, params={"status": "pending"}).json()
            if pending["deliveries"] and pending["deliveries"][0]["attempts"]:
                break
            time.sleep(0.1)
        (waiting,) = pending["deliveries"]
        assert waiting["last_error"] == "HTTP 500" and waiting["next_attempt_at"]
        assert pending["counts"] == {"delivered": 1, "pending": 1}
        # Ingestion goes on while the sink fails.
        assert client.post("/api/v1/events", json=[event("yard", after_history(hours=11),
                                                         "person", "p-11")]).status_code < 300
