"""/metrics: ingest counters, rejections by reason, write latency histogram."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from .helpers import EVENTS, event, wait_upload


def samples(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_after_ingest(client: TestClient) -> None:
    before = samples(client)
    items = [event(ts=f"2026-03-22T10:0{i}:00Z") for i in range(5)]
    items += [event(confidence=3.0), event(confidence=-1.0), event(timestamp="nope")]
    response = client.post(EVENTS, json=items)
    assert response.json()["accepted"] == 5
    assert client.post(EVENTS, json=items[:2]).json()["duplicates"] == 2
    after = samples(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("vigil_events_ingested_total", path="http") == 5
    assert delta("vigil_events_duplicate_total", path="http") == 2
    assert delta("vigil_events_rejected_total", path="http",
                 reason="confidence_out_of_range") == 2
    assert delta("vigil_events_rejected_total", path="http", reason="timestamp_invalid") == 1
    assert delta("vigil_write_seconds_count") >= 2
    assert delta("vigil_write_seconds_sum") > 0
    assert value(after, "vigil_write_seconds_bucket", le="+Inf") == value(
        after, "vigil_write_seconds_count")
    assert value(after, "vigil_write_queue_depth") == 0


def test_metrics_text_names(client: TestClient) -> None:
    assert client.post(EVENTS, json=event()).status_code == 200
    text = client.get("/metrics").text
    for name in ("vigil_events_ingested_total{path=\"http\"}", "vigil_write_seconds_bucket{",
                 "vigil_write_seconds_count", "# TYPE vigil_write_seconds histogram",
                 "vigil_uploads_active"):
        assert name in text


def test_upload_outcomes_are_counted(client: TestClient) -> None:
    before = samples(client)
    csv = (b"camera_id,event_type,timestamp,confidence\n"
           b"c1,detection,2026-03-22T10:00:00Z,0.5\n"
           b"c1,detection,2026-03-22T10:01:00Z,0.6\n"
           b",detection,2026-03-22T10:02:00Z,0.5\n")
    response = client.post("/api/v1/uploads", params={"filename": "m.csv"}, content=csv)
    assert wait_upload(client, response.json()["upload_id"])["status"] == "done"
    after = samples(client)
    assert value(after, "vigil_events_ingested_total", path="upload") - value(
        before, "vigil_events_ingested_total", path="upload") == 2
    assert value(after, "vigil_events_rejected_total", path="upload",
                 reason="source_id_missing") - value(
        before, "vigil_events_rejected_total", path="upload", reason="source_id_missing") == 1
    assert value(after, "vigil_uploads_active") == 0
