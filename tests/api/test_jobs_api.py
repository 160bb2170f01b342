"""``/api/v1/jobs`` on the real app (DuckDB and PostgreSQL): listing, running a job now,
failures visible in the listing and in ``/metrics``, one job at a time, keys."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pyarrow as pa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vigil.api import create_app
from vigil.config import Settings
from vigil.rollup.aggregates import AggregateRecord
from vigil.rollup.summaries import temporarily_registered

from .helpers import EVENTS, add_key, all_events, event

JOBS = "/api/v1/jobs"
TODAY = dt.datetime.now(dt.UTC).date()
"""The jobs read the real clock: events are placed relative to it."""
OLD_DAYS = [TODAY - dt.timedelta(days=n) for n in (45, 44)]


def post_old_events(client: TestClient) -> None:
    items = [event(ts=f"{day}T{hour:02d}:00:00Z") for day in OLD_DAYS for hour in (9, 10)]
    response = client.post(EVENTS, json=items)
    assert response.status_code == 200, response.text


def jobs(client: TestClient) -> dict[str, dict[str, Any]]:
    response = client.get(JOBS)
    assert response.status_code == 200, response.text
    return {job["name"]: job for job in response.json()["jobs"]}


def metric_value(client: TestClient, sample: str) -> float:
    text = client.get("/metrics").text
    found = [line.rsplit(" ", 1)[1] for line in text.splitlines() if line.startswith(sample)]
    return float(found[0]) if found else 0.0


def daily_records(client: TestClient) -> tuple[int, int]:
    """The daily records of :data:`OLD_DAYS`: all (activity and the pattern detectors'
    summaries) and the activity records."""
    response = client.get("/api/v1/aggregates", params={"from": OLD_DAYS[0].isoformat(),
                                                        "to": OLD_DAYS[-1].isoformat()})
    assert response.status_code == 200, response.text
    records = response.json()["records"]
    return len(records), sum(r["detector"] == "activity" for r in records)


def idle(app: FastAPI) -> None:
    assert app.state.jobs.wait_idle(30)  # the catch-up at start is over


class Failing:
    """A daily summarizer that fails, or waits for ``release`` (then summarises nothing)."""

    name = "test_jobs_api_summarizer"

    def __init__(self, release: threading.Event | None = None) -> None:
        self.release = release
        self.entered = threading.Event()

    def summarize(self, day: dt.date, events: pa.Table) -> list[AggregateRecord]:
        self.entered.set()
        if self.release is None:
            raise RuntimeError(f"summary of {day} broke")
        self.release.wait(30)
        return []


def test_the_five_jobs_are_listed_with_their_schedule(app: FastAPI,
                                                      client: TestClient) -> None:
    idle(app)
    body = client.get(JOBS).json()
    assert body["scheduler"] == "running" and body["timezone"] == "UTC"
    listed = {job["name"]: job for job in body["jobs"]}
    assert list(listed) == ["daily", "weekly", "monthly", "patterns", "retention"]
    assert listed["weekly"]["cron"] == "0 3 * * 0"
    weekly_next = dt.datetime.fromisoformat(listed["weekly"]["next_run"])
    assert weekly_next.weekday() == 6 and weekly_next > dt.datetime.now(dt.UTC)
    assert listed["daily"]["runs"] == 1  # the catch-up at start
    assert listed["daily"]["last_run"]["notes"] == ["nothing pending"]
    assert listed["retention"]["last_run"] is None and listed["retention"]["runs"] == 0


def test_run_a_rollup_and_retention_now_and_read_them_back(app: FastAPI,
                                                           client: TestClient) -> None:
    idle(app)
    post_old_events(client)

    response = client.post(f"{JOBS}/daily/run")
    assert response.status_code == 200, response.text
    daily = response.json()
    assert daily["job"] == "daily" and daily["done"] is True
    assert daily["periods"] == [day.isoformat() for day in OLD_DAYS]
    everything, activity = daily_records(client)
    assert activity == 2 and daily["rows_written"] == everything
    purged = client.post(f"{JOBS}/retention/run").json()
    assert purged["rows_deleted"] == 4 and purged["done"] is True

    listed = jobs(client)
    assert listed["daily"]["last_run"] == daily and listed["daily"]["last_outcome"] == "ok"
    assert listed["retention"]["last_run"] == purged and listed["retention"]["runs"] == 1
    assert all_events(client) == []  # raw events past 30 days, rolled up: gone
    kept = client.get("/api/v1/aggregates", params={"from": OLD_DAYS[0].isoformat(),
                                                    "to": OLD_DAYS[-1].isoformat(),
                                                    "detector": "activity"}).json()
    assert [r["bucket"] for r in kept["records"]] == [d.isoformat() for d in OLD_DAYS]


def test_a_failing_job_shows_in_the_listing_and_metrics_then_succeeds(
        app: FastAPI, client: TestClient) -> None:
    idle(app)
    post_old_events(client)
    failures = metric_value(client, 'vigil_job_failures_total{job="daily"}')

    with temporarily_registered(Failing()):
        response = client.post(f"{JOBS}/daily/run")
    assert response.status_code == 500
    assert "summary of" in response.json()["error"]
    failed = jobs(client)["daily"]
    assert failed["last_outcome"] == "failed" and failed["failures"] == 1
    assert failed["last_error"]["message"].startswith("RuntimeError: summary of")
    assert metric_value(client, 'vigil_job_failures_total{job="daily"}') == failures + 1

    retried = client.post(f"{JOBS}/daily/run").json()  # the ledger was left unchanged
    assert retried["periods"] == [day.isoformat() for day in OLD_DAYS]
    after = jobs(client)["daily"]
    assert after["last_outcome"] == "ok" and after["failures"] == 1 and after["runs"] == 3
    assert metric_value(client, 'vigil_job_last_rows{job="daily",kind="written"}') == (
        daily_records(client)[0])


def test_unknown_busy_and_keyed_runs(app: FastAPI, client: TestClient) -> None:
    idle(app)
    missing = client.post(f"{JOBS}/hourly/run")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no job 'hourly'; jobs: daily, weekly, monthly, "
                                       "patterns, retention", "field": "name"}
    post_old_events(client)
    summarizer = Failing(release=threading.Event())
    with temporarily_registered(summarizer):
        worker = threading.Thread(target=app.state.jobs.run, args=["daily"])
        worker.start()
        assert summarizer.entered.wait(30)
        busy = client.post(f"{JOBS}/retention/run")
        summarizer.release.set()
        worker.join(30)
    assert busy.status_code == 409
    assert busy.json()["error"] == "job 'daily' is running; jobs run one at a time"

    admin, reader = add_key(app, "admin"), add_key(app, "read")
    assert client.post(f"{JOBS}/weekly/run").status_code == 401
    assert client.post(f"{JOBS}/weekly/run",
                       headers={"Authorization": f"Bearer {reader}"}).status_code == 403
    assert client.get(JOBS, headers={"Authorization": f"Bearer {reader}"}).status_code == 200
    ran = client.post(f"{JOBS}/weekly/run", headers={"Authorization": f"Bearer {admin}"})
    assert ran.status_code == 200 and ran.json()["job"] == "weekly"


def test_with_the_scheduler_off_jobs_still_run_on_request(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"scheduler": False}))
    with TestClient(app) as client:
        body = client.get(JOBS).json()
        assert body["scheduler"] == "off"
        assert [(j["next_run"], j["runs"]) for j in body["jobs"]] == [(None, 0)] * 5
        response = client.post(f"{JOBS}/monthly/run")
        assert response.status_code == 200 and response.json()["done"] is True
        assert jobs(client)["monthly"]["runs"] == 1
