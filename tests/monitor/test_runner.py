"""The detector at the edge, on a real store: scoring new events, resuming, false positives,
alert planning and a detector failure that leaves ingestion alone."""

from __future__ import annotations

import datetime as dt

import pytest

from vigil.ingest.payload import ingest_payload
from vigil.monitor.runner import DetectionRunner
from vigil.store import Store
from vigil.store.anomalies import AnomalyFilter

from .history import after_history, event, history, night_visit, payload

NIGHT = after_history(hours=3.25)  # Monday 03:15, a day after three weeks of history
NOON = after_history(hours=12.5)


def ingest(store: Store, items: list[dict[str, object]]) -> int:
    result = ingest_payload(payload(items), store.insert_events)
    assert not result.rejected, result.rejected
    return result.accepted


def primed(store: Store, *, sinks: tuple[str, ...] = ()) -> DetectionRunner:
    runner = DetectionRunner(store, sinks=sinks)
    runner.prime(NIGHT)
    return runner


def test_history_is_learned_and_unusual_events_are_flagged(store: Store) -> None:
    ingest(store, history())
    runner = primed(store)
    assert runner.run_once(NIGHT).new == 0  # nothing new since priming: nothing scored
    ingest(store, [*night_visit(NIGHT, "night"), event("yard", NOON, "horse", "horse-1")])
    report = runner.run_once(NOON)
    assert report.events == 4
    found = {a["type"]: a for a in store.list_anomalies(AnomalyFilter(), 10)}
    assert {"rare_time", "novel_object"} <= set(found)
    night = store.list_anomalies(AnomalyFilter(anomaly_type="rare_time"), 10)
    assert {a["event_id"] for a in night} <= {"night-0", "night-1", "night-2"}
    assert all(a["label"] == "person" and a["local_hour"] == 3 for a in night)
    assert any(a["severity"] in ("medium", "high") for a in night)
    assert "03:00" in night[0]["explanation"]
    assert found["novel_object"]["label"] == "horse"
    assert store.detector_cursor("anomalies") == store.newest_ingest_batch()


def test_ordinary_events_are_not_flagged(store: Store) -> None:
    ingest(store, history())
    runner = primed(store)
    ingest(store, [event("yard", after_history(hours=h + 0.2), "person", f"day-{h}")
                   for h in range(9, 18)])
    assert runner.run_once(after_history(hours=18)).events == 9
    assert [a for a in store.list_anomalies(AnomalyFilter(), 10)
            if a["type"] in ("rare_time", "novel_object")] == []


def test_a_restart_resumes_without_scoring_twice(store: Store) -> None:
    ingest(store, history())
    primed(store)
    ingest(store, night_visit(NIGHT, "night"))
    assert primed(store).run_once(NIGHT).new >= 1  # a new runner picks up the stored cursor
    stored = len(store.list_anomalies(AnomalyFilter(), 10))
    again = primed(store)
    assert again.run_once(NIGHT).events == 0
    assert len(store.list_anomalies(AnomalyFilter(), 10)) == stored


def test_a_false_positive_is_not_flagged_again(store: Store) -> None:
    ingest(store, history())
    runner = primed(store)
    ingest(store, night_visit(NIGHT, "night"))
    runner.run_once(NIGHT)
    flagged = store.list_anomalies(AnomalyFilter(anomaly_type="rare_time"), 10)
    assert flagged
    for anomaly in flagged:
        store.set_anomaly_status(anomaly["anomaly_id"], "false_positive", NIGHT)
    later = NIGHT + dt.timedelta(days=7)  # the same hour of the next week
    ingest(store, night_visit(later, "again"))
    report = runner.run_once(later)
    assert report.events == 3
    assert len(store.list_anomalies(AnomalyFilter(anomaly_type="rare_time"), 10)) == len(
        flagged)


def test_alerts_are_planned_by_the_rules(store: Store) -> None:
    ingest(store, history())
    store.save_alert_rule("night", {"rule_id": "night", "name": "night people",
                                    "min_severity": "low", "types": ["rare_time"],
                                    "schedule": {"hours": "22-6"}}, NIGHT)
    store.save_alert_rule("zoo", {"rule_id": "zoo", "name": "animals", "labels": ["horse"],
                                  "sinks": ["mqtt"]}, NIGHT)
    runner = primed(store, sinks=("webhook", "mqtt"))
    ingest(store, [*night_visit(NIGHT, "night"), event("yard", NOON, "horse", "horse-1")])
    report = runner.run_once(NOON)
    queued = {(d["rule_id"], d["sink"]) for d in store.list_deliveries("pending", 10)}
    assert queued == {("night", "webhook"), ("night", "mqtt"), ("zoo", "mqtt")}
    assert report.alerts == 3  # the morning's silence matches no rule
    payloads = [d["payload"] for d in store.list_deliveries(None, 10)]
    assert {p["rule"]["name"] for p in payloads} == {"night people", "animals"}
    assert all(isinstance(p["window_start"], str) for p in payloads)


def test_a_detector_failure_does_not_touch_ingestion(store: Store) -> None:
    store.set_source_timezone("yard", "America/New_York")
    ingest(store, history())
    runner = primed(store)

    def broken(found: object) -> object:
        raise RuntimeError("scoring broke")

    runner.detector.process = broken  # type: ignore[method-assign,assignment]
    ingest(store, night_visit(NIGHT, "night"))
    with pytest.raises(RuntimeError):
        runner.run_once(NIGHT)
    assert store.count_events() == len(history()) + 3
    assert store.list_anomalies(AnomalyFilter(), 10) == []
    runner.primed = False  # what the service thread does after a failure: rebuild, read again
    assert runner.run_once(NIGHT).new >= 1
    night = store.list_anomalies(AnomalyFilter(anomaly_type="rare_time"), 10)
    assert night and {a["local_hour"] for a in night} == {22}  # 03:15 UTC in New York
