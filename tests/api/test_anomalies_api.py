"""Anomalies over HTTP: events posted to the service are scored in the background; the
listing filters and pages; ack and false-positive change the status; bad requests name the
field."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from monitor.history import after_history, event, history, night_visit

from .helpers import EVENTS

ANOMALIES = "/api/v1/anomalies"


def scored(client: TestClient, items: list[dict[str, Any]]) -> None:
    """Post events and wait until the detector has looked at them."""
    response = client.post(EVENTS, json=items)
    assert response.status_code in (200, 201, 207), response.text
    monitor = client.app.state.vigil.monitor  # type: ignore[attr-defined]
    monitor.notify()
    assert monitor.detector.wait_idle(30.0)


def test_posted_events_are_scored_and_listed(client: TestClient) -> None:
    scored(client, history())
    scored(client, [*night_visit(after_history(hours=3.2), "night"),
                    event("yard", after_history(hours=3.5), "horse", "horse-1")])
    body = client.get(ANOMALIES, params={"source_id": "yard"}).json()
    kinds = {a["type"]: a for a in body["anomalies"]}
    assert {"rare_time", "novel_object"} <= set(kinds)
    assert kinds["novel_object"]["label"] == "horse"
    assert kinds["novel_object"]["severity"] in ("medium", "high")
    assert "never been seen" in kinds["novel_object"]["explanation"]
    assert body["counts"]["open"] == len(body["anomalies"])
    only = client.get(ANOMALIES, params={"type": "novel_object"}).json()["anomalies"]
    assert [a["event_id"] for a in only] == ["horse-1"]
    page = client.get(ANOMALIES, params={"limit": 1}).json()
    assert len(page["anomalies"]) == 1 and page["next_before_id"] is not None
    one = client.get(f"{ANOMALIES}/{kinds['rare_time']['anomaly_id']}").json()
    assert one["event_id"].startswith("night-") and one["type"] == "rare_time"


def test_ack_and_false_positive(client: TestClient) -> None:
    scored(client, history())
    scored(client, night_visit(after_history(hours=3.2), "night"))
    flagged = client.get(ANOMALIES, params={"type": "rare_time"}).json()["anomalies"]
    assert flagged
    night = flagged[-1]
    url = f"{ANOMALIES}/{night['anomaly_id']}"
    assert client.post(f"{url}/ack").json()["status"] == "acknowledged"
    for anomaly in flagged:
        marked = client.post(f"{ANOMALIES}/{anomaly['anomaly_id']}/false-positive").json()
        assert marked["status"] == "false_positive"
    listed = client.get(ANOMALIES, params={"status": "false_positive"}).json()["anomalies"]
    assert {a["anomaly_id"] for a in listed} == {a["anomaly_id"] for a in flagged}
    # The same pattern a week later is remembered as a false positive: not stored again.
    scored(client, night_visit(after_history(days=28, hours=3.2), "again"))
    again = client.get(ANOMALIES, params={"type": "rare_time"}).json()["anomalies"]
    assert len(again) == len(flagged)


def test_errors_name_the_field(client: TestClient) -> None:
    missing = client.post(f"{ANOMALIES}/424242/ack")
    assert missing.status_code == 404 and missing.json()["field"] == "anomaly_id"
    bad = client.get(ANOMALIES, params={"severity": "extreme"})
    assert bad.status_code == 422 and bad.json()["field"] == "severity"
    naive = client.get(ANOMALIES, params={"start": "2024-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["field"] == "start"
