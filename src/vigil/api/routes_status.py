"""System health in one read, for the dashboard: ingest counters and rate, the scheduled
jobs, the alert-delivery backlog and the anomaly counts."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

from fastapi import APIRouter, Depends
from prometheus_client.metrics import MetricWrapperBase

from vigil import __version__
from vigil.api.auth import require
from vigil.api.routes_jobs import job_scheduler, list_jobs
from vigil.api.state import AppState, app_state
from vigil.metrics import (
    EVENTS_DUPLICATE,
    EVENTS_INGESTED,
    EVENTS_REJECTED,
    INGEST_RATE,
    STARTED,
    UPLOADS_ACTIVE,
    WRITE_FAILURES,
    WRITE_QUEUE,
)
from vigil.rollup.scheduler import JobScheduler
from vigil.store.alerts import DELIVERY_STATUSES
from vigil.store.anomalies import ANOMALY_STATUSES

router = APIRouter(prefix="/api/v1", tags=["system"])


@runtime_checkable
class Subscriber(Protocol):
    """An ingestor that knows whether the broker confirmed its subscriptions (MQTT)."""

    def wait_subscribed(self, timeout: float) -> bool: ...


@router.get("/status", dependencies=[Depends(require("read"))])
def status(state: AppState = Depends(app_state),
           scheduler: JobScheduler = Depends(job_scheduler)) -> dict[str, Any]:
    """System health in one object (counters count since this process started).

    - `now` (UTC, ISO 8601), `uptime_s`, `version`, `store` (the store class in use)
    - `ingest`: `events_total` (events stored), `per_minute` (events stored per minute over
      the last 5 minutes, or over the uptime when shorter), `last_minute` (events stored in
      the last 60 s), `duplicates_total`, `rejected_total`, `rejected_by_reason`
      (`{reason: n}`), `write_queue_depth` (writes waiting for the writer),
      `write_failures_total`, `uploads_active`, `dead_letters` (messages kept in the
      dead-letter table), `mqtt_connected` (MQTT ingest subscribed at its broker; `null`
      when MQTT ingest is not configured)
    - `jobs`: `scheduler` (`running` or `off`), `timezone`, `jobs`: per job `name`,
      `running`, `last_outcome` (`ok`, `failed`, `null`: never run), `last_success_at`,
      `last_success_duration_s`, `next_run`, `last_error`, `last_error_at`, `runs`,
      `failures` (the full view is `GET /api/v1/jobs`)
    - `sinks`: alert deliveries per status: `pending` (the backlog), `failed`, `delivered`
    - `anomalies`: anomalies per status: `open`, `acknowledged`, `false_positive`
    """
    now = dt.datetime.now(dt.UTC)
    clock = time.monotonic()
    return {
        "now": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "uptime_s": round(clock - STARTED, 3),
        "version": __version__,
        "store": type(state.store).__name__,
        "ingest": ingest_status(state, clock),
        "jobs": jobs_status(scheduler),
        "sinks": _with_zeros(state.store.count_deliveries(), DELIVERY_STATUSES),
        "anomalies": _with_zeros(state.store.count_anomalies(), ANOMALY_STATUSES),
    }


def ingest_status(state: AppState, clock: float) -> dict[str, Any]:
    """Ingest counters of this process, its rate at monotonic time ``clock``, the backlog."""
    rejected: dict[str, int] = {}
    for labels, value in _samples(EVENTS_REJECTED):
        rejected[labels["reason"]] = rejected.get(labels["reason"], 0) + int(value)
    return {
        "events_total": _total(EVENTS_INGESTED),
        "per_minute": round(INGEST_RATE.rate_per_minute(clock), 3),
        "last_minute": INGEST_RATE.last(60, clock),
        "duplicates_total": _total(EVENTS_DUPLICATE),
        "rejected_total": sum(rejected.values()),
        "rejected_by_reason": dict(sorted(rejected.items())),
        "write_queue_depth": _total(WRITE_QUEUE),
        "write_failures_total": _total(WRITE_FAILURES),
        "uploads_active": _total(UPLOADS_ACTIVE),
        "dead_letters": state.store.count_dead_letters(),
        "mqtt_connected": (state.mqtt.wait_subscribed(0) if isinstance(state.mqtt, Subscriber)
                           else None),
    }


def jobs_status(scheduler: JobScheduler) -> dict[str, Any]:
    """The scheduler's state and a short line per job (from ``GET /api/v1/jobs``)."""
    listing = list_jobs(scheduler)
    return {"scheduler": listing["scheduler"], "timezone": listing["timezone"],
            "jobs": [_job_line(job) for job in listing["jobs"]]}


def _job_line(job: dict[str, Any]) -> dict[str, Any]:
    last_run = job["last_run"] or {}
    last_error = job["last_error"] or {}
    return {"name": job["name"], "running": job["running"], "last_outcome": job["last_outcome"],
            "last_success_at": last_run.get("started_at"),
            "last_success_duration_s": last_run.get("duration_s"),
            "next_run": job["next_run"], "last_error": last_error.get("message"),
            "last_error_at": last_error.get("at"), "runs": job["runs"],
            "failures": job["failures"]}


def _samples(metric: MetricWrapperBase) -> Iterator[tuple[dict[str, str], float]]:
    """The value samples of a counter or gauge (not ``_created``), with their labels."""
    for family in metric.collect():
        names = {family.name, f"{family.name}_total"}
        for sample in family.samples:
            if sample.name in names:
                yield sample.labels, sample.value


def _total(metric: MetricWrapperBase) -> int:
    """A counter or gauge summed over its labels."""
    return int(sum(value for _, value in _samples(metric)))


def _with_zeros(counts: dict[str, int], statuses: tuple[str, ...]) -> dict[str, int]:
    """``counts`` with every known status present (0 when there is none)."""
    return {**dict.fromkeys(statuses, 0), **counts}
