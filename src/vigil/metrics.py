"""Prometheus metrics of the process (exposed at ``/metrics``)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vigil.ratemeter import RateMeter

STARTED = time.monotonic()
"""When the process started (monotonic clock; the uptime in ``/api/v1/status``)."""
INGEST_RATE = RateMeter(STARTED)
"""Events stored, per second over the last five minutes (fed by :func:`count_outcome`)."""

REGISTRY = CollectorRegistry(auto_describe=True)

EVENTS_INGESTED = Counter("vigil_events_ingested", "Events stored", ["path"], registry=REGISTRY)
EVENTS_DUPLICATE = Counter("vigil_events_duplicate", "Events already stored, skipped", ["path"],
                           registry=REGISTRY)
EVENTS_REJECTED = Counter("vigil_events_rejected", "Input items rejected", ["path", "reason"],
                          registry=REGISTRY)
WRITE_LATENCY = Histogram(
    "vigil_write_seconds", "Duration of one group commit of the writer",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
WRITE_QUEUE = Gauge("vigil_write_queue_depth", "Writes waiting for the writer",
                    registry=REGISTRY)
WRITE_FAILURES = Counter("vigil_write_failures", "Write functions that raised",
                         registry=REGISTRY)
WRITE_RETRIES = Counter("vigil_write_retries", "Transactions run again after a write conflict",
                        registry=REGISTRY)
UPLOADS_ACTIVE = Gauge("vigil_uploads_active", "Uploads being processed", registry=REGISTRY)
DETECTOR_EVENTS = Counter("vigil_detector_events", "Events read by the anomaly detector",
                          registry=REGISTRY)
DETECTOR_FAILURES = Counter("vigil_detector_failures", "Detector cycles that failed (retried)",
                            registry=REGISTRY)
ANOMALIES = Counter("vigil_anomalies", "Anomalies stored", ["type", "severity"],
                    registry=REGISTRY)
ANOMALIES_SUPPRESSED = Counter("vigil_anomalies_suppressed",
                               "Anomalies not stored: a remembered false positive",
                               registry=REGISTRY)
ALERTS_QUEUED = Counter("vigil_alerts_queued", "Alert deliveries queued", ["sink"],
                        registry=REGISTRY)
ALERTS_SUPPRESSED = Counter("vigil_alerts_suppressed", "Alerts held back by a rule",
                            ["reason"], registry=REGISTRY)
ALERT_ATTEMPTS = Counter("vigil_alert_attempts", "Alert delivery attempts",
                         ["sink", "outcome"], registry=REGISTRY)

JOB_RUNS = Counter("vigil_job_runs", "Runs of a scheduled job (failed ones too)", ["job"],
                   registry=REGISTRY)
JOB_FAILURES = Counter("vigil_job_failures", "Runs of a scheduled job that failed", ["job"],
                       registry=REGISTRY)
JOB_LAST_DURATION = Gauge("vigil_job_last_duration_seconds",
                          "Duration of the last run of a job", ["job"], registry=REGISTRY)
JOB_LAST_SUCCESS = Gauge("vigil_job_last_success_timestamp_seconds",
                         "When the last successful run of a job finished (Unix time)", ["job"],
                         registry=REGISTRY)
JOB_LAST_ROWS = Gauge("vigil_job_last_rows", "Rows the last successful run of a job wrote or "
                      "deleted", ["job", "kind"], registry=REGISTRY)


def count_outcome(path: str, accepted: int, duplicates: int,
                  rejected_by_reason: dict[str, int]) -> None:
    """Add one ingest outcome to the counters and the ingest-rate meter."""
    EVENTS_INGESTED.labels(path).inc(accepted)
    INGEST_RATE.add(accepted, time.monotonic())
    EVENTS_DUPLICATE.labels(path).inc(duplicates)
    for reason, count in rejected_by_reason.items():
        EVENTS_REJECTED.labels(path, reason).inc(count)
