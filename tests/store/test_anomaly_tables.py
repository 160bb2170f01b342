"""Anomalies, false positives, the detector cursor, alert rules and deliveries on both
backends."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from vigil.store import Store
from vigil.store.alerts import DeliveryOutcome, NewDelivery
from vigil.store.anomalies import AnomalyFilter, NewAnomaly

T0 = dt.datetime(2024, 3, 5, 2, 0, tzinfo=dt.UTC)


def anomaly(kind: str = "rare_time", *, source: str = "yard", score: float = 0.97,
            severity: str = "medium", run_id: str | None = None, hours: int = 0,
            key: str = "rare_time:person:how=26", label: str | None = "person") -> NewAnomaly:
    return NewAnomaly(
        source_id=source, anomaly_type=kind, label=label,
        event_id=None if run_id else "e1", window_start=T0,
        window_end=T0 + dt.timedelta(hours=hours), local_date=T0.date(), local_weekday=1,
        local_hour=2, score=score, severity=severity, explanation=f"{kind} at {source}",
        components={"rate_per_week": 0.2}, pattern_key=key, run_id=run_id)


def test_save_list_filter_and_page(store: Store) -> None:
    saved = store.save_anomalies(
        [anomaly(), anomaly("novel_object", source="door", severity="high", key="novel:horse"),
         anomaly("spike", severity="low", run_id="yard/person/1", hours=1)], T0)
    assert [s.new for s in saved] == [True, True, True]
    ids = [s.anomaly_id for s in saved]
    everything = store.list_anomalies(AnomalyFilter(), 10)
    assert [a["anomaly_id"] for a in everything] == sorted(ids, reverse=True)
    first = everything[-1]
    assert first["type"] == "rare_time" and first["components"] == {"rate_per_week": 0.2}
    assert first["window_start"] == T0 and first["status"] == "open"
    assert [a["type"] for a in store.list_anomalies(AnomalyFilter(sources=("door",)), 10)] == \
        ["novel_object"]
    assert {a["type"] for a in store.list_anomalies(AnomalyFilter(min_severity="medium"),
                                                     10)} == {"rare_time", "novel_object"}
    page = store.list_anomalies(AnomalyFilter(), 2)
    rest = store.list_anomalies(AnomalyFilter(), 2, before_id=page[-1]["anomaly_id"])
    assert [a["anomaly_id"] for a in page + rest] == sorted(ids, reverse=True)
    assert store.count_anomalies() == {"open": 3}


def test_a_run_grows_one_anomaly(store: Store) -> None:
    first = store.save_anomalies([anomaly("silence", run_id="r", hours=1, score=0.6,
                                          severity="low", label=None)], T0)[0]
    later = T0 + dt.timedelta(hours=3)
    grown = store.save_anomalies([anomaly("silence", run_id="r", hours=3, score=0.9,
                                          severity="high", label=None)], later)[0]
    assert grown.anomaly_id == first.anomaly_id and not grown.new and grown.escalated
    again = store.save_anomalies([anomaly("silence", run_id="r", hours=4, score=0.7,
                                          severity="medium", label=None)], later)[0]
    assert not again.escalated
    (row,) = store.list_anomalies(AnomalyFilter(), 10)
    assert row["severity"] == "high" and row["score"] == 0.9  # the worst is kept
    assert row["window_end"] == T0 + dt.timedelta(hours=4)  # the window grows


def test_false_positive_is_remembered_and_forgotten_on_reopen(store: Store) -> None:
    (saved,) = store.save_anomalies([anomaly()], T0)
    assert store.set_anomaly_status(saved.anomaly_id, "false_positive", T0) is not None
    assert store.false_positive_patterns() == {("yard", "rare_time:person:how=26"): "medium"}
    assert store.unlearned_event_anomalies() == []
    assert len(store.list_false_positive_anomalies("yard", "rare_time:person:how=26")) == 1
    store.set_anomaly_status(saved.anomaly_id, "open", T0)
    assert store.false_positive_patterns() == {}
    assert store.unlearned_event_anomalies() == [("yard", "person", T0.date(), 2, 1)]
    assert store.set_anomaly_status(999, "acknowledged", T0) is None
    with pytest.raises(ValueError, match="status must be one of"):
        store.set_anomaly_status(saved.anomaly_id, "closed", T0)


def test_detector_cursor(store: Store) -> None:
    assert store.detector_cursor("anomalies") is None
    store.save_detector_cursor("anomalies", 7, T0)
    store.save_detector_cursor("anomalies", 9, T0)
    assert store.detector_cursor("anomalies") == 9


def test_rules_and_delivery_queue(store: Store) -> None:
    assert store.save_alert_rule("r1", {"rule_id": "r1", "name": "a"}, T0)
    assert not store.save_alert_rule("r1", {"rule_id": "r1", "name": "b"}, T0)
    assert store.list_alert_rules() == [{"rule_id": "r1", "name": "b"}]
    (saved,) = store.save_anomalies([anomaly()], T0)
    ids = store.enqueue_deliveries(
        [NewDelivery(saved.anomaly_id, "r1", "webhook", {"x": 1}),
         NewDelivery(saved.anomaly_id, "r1", "mqtt", {"x": 2})], T0)
    assert [d["delivery_id"] for d in store.due_deliveries(T0, 10)] == ids
    retry_at = T0 + dt.timedelta(seconds=4)
    store.record_delivery(DeliveryOutcome(ids[0], False, 503, "HTTP 503", retry_at), T0)
    store.record_delivery(DeliveryOutcome(ids[1], True, None, None, None), T0)
    assert store.due_deliveries(T0, 10) == []
    assert store.next_delivery_due() == retry_at
    (due,) = store.due_deliveries(retry_at, 10)
    assert due["attempts"] == 1 and due["last_error"] == "HTTP 503" and due["payload"] == {
        "x": 1}
    store.record_delivery(DeliveryOutcome(ids[0], False, 400, "HTTP 400", None), retry_at)
    assert store.count_deliveries() == {"delivered": 1, "failed": 1}
    assert [d["status"] for d in store.list_deliveries("failed", 10)] == ["failed"]
    assert store.delete_alert_rule("r1") and not store.delete_alert_rule("r1")


def test_one_process_holds_the_detector_role(pg_url: str) -> None:
    """With several PostgreSQL workers only one runs the detector; the role passes on when
    its holder goes away."""
    from vigil.store import open_store

    first, second = open_store(pg_url), open_store(pg_url)
    try:
        assert first.claim_role("detector")
        assert not second.claim_role("detector")
        first.close()  # the server ends the session (and its locks) a moment later
        deadline = time.monotonic() + 10.0
        while not second.claim_role("detector"):
            assert time.monotonic() < deadline, "the role was not released"
            time.sleep(0.05)
    finally:
        second.close()
