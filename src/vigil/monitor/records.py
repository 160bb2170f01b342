"""Conversions between the detector's findings, stored anomalies and alert payloads."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from vigil.anomaly.detector import Detection
from vigil.store.anomalies import NewAnomaly


def new_anomaly(found: Detection, timezone: str) -> NewAnomaly:
    """The row to store for a detection; ``timezone`` is its source's zone."""
    local = found.window_start.astimezone(ZoneInfo(timezone))
    return NewAnomaly(
        source_id=found.source_id, anomaly_type=found.type, label=found.label,
        event_id=found.event_id, window_start=found.window_start,
        window_end=found.window_end, local_date=local.date(),
        local_weekday=found.local_weekday, local_hour=found.local_hour, score=found.score,
        severity=found.severity, explanation=found.explanation,
        components=dict(found.components), pattern_key=found.key, run_id=found.run_id,
    )


def stored_record(item: NewAnomaly, anomaly_id: int, status: str,
                  detected_at: dt.datetime) -> dict[str, Any]:
    """The anomaly as the API lists it, built without reading it back."""
    return {
        "anomaly_id": anomaly_id, "source_id": item.source_id, "type": item.anomaly_type,
        "label": item.label, "event_id": item.event_id, "window_start": item.window_start,
        "window_end": item.window_end, "local_date": item.local_date,
        "local_weekday": item.local_weekday, "local_hour": item.local_hour,
        "score": item.score, "severity": item.severity, "explanation": item.explanation,
        "components": item.components, "pattern_key": item.pattern_key,
        "run_id": item.run_id, "status": status, "detected_at": detected_at,
    }


def json_safe(value: Any) -> Any:
    """Dates and times as ISO text, recursively, so the value can be sent as JSON."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def alert_payload(record: dict[str, Any], rule_id: str, rule_name: str) -> dict[str, Any]:
    """What a sink is sent: the anomaly, plus the rule that fired."""
    payload: dict[str, Any] = json_safe(record)
    payload["rule"] = {"rule_id": rule_id, "name": rule_name}
    return payload


def detection_of(record: dict[str, Any]) -> Detection:
    """A stored anomaly as the detector's finding (to learn a false positive as normal)."""
    return Detection(
        source_id=record["source_id"], type=record["type"], label=record["label"],
        event_id=record["event_id"], window_start=record["window_start"],
        window_end=record["window_end"], local_weekday=int(record["local_weekday"]),
        local_hour=int(record["local_hour"]), score=float(record["score"]),
        severity=record["severity"], explanation=record["explanation"],
        components=dict(record["components"] or {}), key=record["pattern_key"],
        run_id=record["run_id"],
    )
