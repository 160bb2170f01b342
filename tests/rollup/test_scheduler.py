"""The job scheduler: crontab strings, runs and their recorded state, failures and retries,
one job at a time, the catch-up at start, and the service's rollup and retention jobs
through the single writer of a real DuckDB store."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from pydantic import ValidationError

from vigil.config import Settings
from vigil.metrics import JOB_FAILURES, JOB_LAST_ROWS, JOB_RUNS, REGISTRY
from vigil.rollup import SqlAggregateStore
from vigil.rollup.crontab import check_crontab, cron_trigger
from vigil.rollup.jobreport import JobReport
from vigil.rollup.scheduler import (
    JobBusyError,
    JobCancelledError,
    JobScheduler,
    ScheduledJob,
    UnknownJobError,
)
from vigil.rollup.service_jobs import rollup_job, service_jobs
from vigil.store import Store, open_store
from vigil.store.base import EVENT_INPUT_SCHEMA
from vigil.writer import Writer

NOW = dt.datetime(2026, 6, 10, 12, 0, tzinfo=dt.UTC)
SATURDAY = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)


def next_fire(expr: str, after: dt.datetime, zone: str = "UTC") -> dt.datetime:
    fired: dt.datetime = cron_trigger(expr, zone).get_next_fire_time(None, after)
    return fired


# -- crontab strings ------------------------------------------------------------------------
@pytest.mark.parametrize(("expr", "expected"), [
    ("0 3 * * *", dt.datetime(2026, 11, 22, 3, 0)),
    ("0 3 * * 0", dt.datetime(2026, 11, 22, 3, 0)),  # crontab 0 = Sunday
    ("0 3 * * 7", dt.datetime(2026, 11, 22, 3, 0)),
    ("0 3 * * 1", dt.datetime(2026, 11, 23, 3, 0)),
    ("0 3 * * 1-5", dt.datetime(2026, 11, 23, 3, 0)),
    ("0 3 * * 5-7", dt.datetime(2026, 11, 22, 3, 0)),
    ("0 3 * * sun", dt.datetime(2026, 11, 22, 3, 0)),
    ("0 3 * * */2", dt.datetime(2026, 11, 22, 3, 0)),  # sun, tue, thu, sat: Sat 12:00 passed
    ("0 3 1 * *", dt.datetime(2026, 12, 1, 3, 0)),
    ("30 3 * * *", dt.datetime(2026, 11, 22, 3, 30)),
])
def test_crontab_strings_fire_as_cron_says(expr: str, expected: dt.datetime) -> None:
    assert next_fire(expr, SATURDAY) == expected.replace(tzinfo=ZoneInfo("UTC"))


def test_cron_runs_in_the_given_time_zone() -> None:
    fired = next_fire("0 3 * * *", SATURDAY, "Europe/Berlin")
    assert fired.isoformat() == "2026-11-22T03:00:00+01:00"


@pytest.mark.parametrize(("expr", "why"), [
    ("0 3 * *", "5 fields"),
    ("61 3 * * *", "invalid crontab string"),
    ("0 3 * * 8", "invalid weekday '8'"),
    ("0 3 1 * 1", "restricts both the day of the month and the weekday"),
    ("0 3 * * 5-1", "invalid weekday field"),
])
def test_bad_crontab_strings_are_refused_with_why(expr: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        check_crontab(expr)


def test_settings_name_the_bad_cron_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="VIGIL_CRON_WEEKLY: a crontab string has 5"):
        Settings(cron_weekly="every sunday")
    monkeypatch.setenv("VIGIL_CRON_DAILY", "15 4 * * *")
    monkeypatch.setenv("VIGIL_SCHEDULER", "off")
    settings = Settings()
    assert (settings.cron_daily, settings.cron_weekly, settings.cron_monthly,
            settings.cron_retention, settings.cron_patterns, settings.scheduler) == (
        "15 4 * * *", "0 3 * * 0", "0 3 1 * *", "30 3 * * *", "15 3 * * *", False)
    monkeypatch.setenv("VIGIL_CRON_PATTERNS", "45 4 * * *")
    assert Settings().cron_patterns == "45 4 * * *"
    with pytest.raises(ValidationError, match="VIGIL_CRON_PATTERNS: a crontab string has 5"):
        Settings(cron_patterns="nightly")


# -- the scheduler --------------------------------------------------------------------------
class Flaky:
    """A job function failing its first ``failures`` runs; it records the ``now`` given."""

    def __init__(self, name: str, failures: int = 0) -> None:
        self.name, self.failures = name, failures
        self.calls: list[dt.datetime] = []

    def __call__(self, now: dt.datetime) -> JobReport:
        self.calls.append(now)
        if len(self.calls) <= self.failures:
            raise RuntimeError(f"{self.name} broke (call {len(self.calls)})")
        return JobReport(job=self.name, started_at=now, duration_s=0.25,
                         periods=(now.date(),), rows_written=7, rows_deleted=2)


def metric(name: str, job: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, {"job": job, **labels})
    return 0.0 if value is None else value


def scheduler_of(*functions: Flaky, **options: object) -> JobScheduler:
    jobs = [ScheduledJob(f.name, "0 3 * * *", f) for f in functions]
    return JobScheduler(jobs, "UTC", clock=lambda: NOW, **options)  # type: ignore[arg-type]


def test_a_failing_job_records_why_and_the_next_run_succeeds() -> None:
    job = Flaky("sched-flaky", failures=1)
    scheduler = scheduler_of(job)
    runs, failures = metric("vigil_job_runs_total", job.name), \
        metric("vigil_job_failures_total", job.name)

    with pytest.raises(RuntimeError, match="broke"):
        scheduler.run(job.name)
    failed = scheduler.statuses()[0]
    assert (failed.runs, failed.failures, failed.last_outcome) == (1, 1, "failed")
    assert failed.last_error == "RuntimeError: sched-flaky broke (call 1)"
    assert failed.last_error_at == NOW and failed.last_run is None

    report = scheduler.run(job.name)
    status = scheduler.statuses()[0]
    assert status.last_run == report and report.started_at == NOW == job.calls[-1]
    assert (status.runs, status.failures, status.last_outcome) == (2, 1, "ok")
    assert status.as_dict()["last_error"] == {"message": failed.last_error,
                                              "at": NOW.isoformat()}
    assert metric("vigil_job_runs_total", job.name) == runs + 2
    assert metric("vigil_job_failures_total", job.name) == failures + 1
    assert JOB_LAST_ROWS.labels(job.name, "written")._value.get() == 7
    assert metric("vigil_job_last_success_timestamp_seconds", job.name) == \
        NOW.timestamp() + 0.25
    assert JOB_RUNS and JOB_FAILURES  # the counters exist at import


def test_unknown_jobs_and_one_job_at_a_time() -> None:
    release, entered = threading.Event(), threading.Event()

    def slow(now: dt.datetime) -> JobReport:
        entered.set()
        release.wait(10)
        return JobReport(job="sched-slow", started_at=now, duration_s=0.0)

    scheduler = JobScheduler([ScheduledJob("sched-slow", "0 3 * * *", slow),
                              ScheduledJob("sched-other", "0 4 * * *", Flaky("sched-other"))],
                             "UTC", clock=lambda: NOW)
    with pytest.raises(UnknownJobError):
        scheduler.run("nope")
    worker = threading.Thread(target=scheduler.run, args=["sched-slow"])
    worker.start()
    assert entered.wait(10)
    assert [s.running for s in scheduler.statuses()] == [True, False]
    with pytest.raises(JobBusyError, match="job 'sched-slow' is running"):
        scheduler.run("sched-other")
    release.set()
    worker.join(10)
    assert scheduler.wait_idle(10)
    assert scheduler.run("sched-other").rows_written == 7


def test_start_runs_the_catch_up_once_in_order_and_schedules_by_cron() -> None:
    calls: list[str] = []

    def job(name: str) -> ScheduledJob:
        def run(now: dt.datetime) -> JobReport:
            calls.append(name)
            return JobReport(job=name, started_at=now, duration_s=0.0)
        return ScheduledJob(name, {"weekly": "0 3 * * 0"}.get(name, "0 3 * * *"), run)

    scheduler = JobScheduler([job(n) for n in ("daily", "weekly", "monthly", "patterns",
                                               "retention")], "Europe/Berlin")
    scheduler.start()
    try:
        assert scheduler.wait_idle(10)
        assert calls == ["daily", "weekly", "monthly", "patterns"]  # not retention
        statuses = {s.name: s for s in scheduler.statuses()}
        weekly = statuses["weekly"].next_run
        assert weekly is not None and weekly.weekday() == 6 and weekly.hour == 3
        assert str(weekly.tzinfo) == "Europe/Berlin"
        assert statuses["retention"].next_run is not None
        assert statuses["retention"].runs == 0 and statuses["daily"].runs == 1
    finally:
        scheduler.shutdown()
    assert scheduler.stop.is_set() and not scheduler.started
    assert all(s.next_run is None for s in scheduler.statuses())


def test_a_process_without_the_schedule_role_does_not_run_it() -> None:
    job = Flaky("daily")
    scheduler = JobScheduler([ScheduledJob("daily", "0 3 * * *", job)], "UTC",
                             is_leader=lambda: False)
    scheduler.start()
    try:
        assert scheduler.wait_idle(10)
    finally:
        scheduler.shutdown()
    assert job.calls == [] and scheduler.statuses()[0].runs == 0


# -- the service's jobs on a real store through the writer -----------------------------------
@pytest.fixture
def duck(tmp_path: Path) -> Iterator[Store]:
    store = open_store(str(tmp_path / "jobs.duckdb"))
    try:
        yield store
    finally:
        store.close()


def fill(store: Store, days: int) -> None:
    rows = [{"event_id": f"e{n}-{i}", "source_id": "cam1", "event_type": "detection",
             "ts": NOW - dt.timedelta(days=n, minutes=i), "labels": ["person"]}
            for n in range(1, days + 1) for i in range(3)]
    store.insert_events(pa.Table.from_pylist(rows, schema=EVENT_INPUT_SCHEMA))


def test_rollup_job_catches_up_in_bounded_writer_steps(duck: Store) -> None:
    fill(duck, 20)
    aggregates = SqlAggregateStore(duck)
    commits: list[int] = []
    writer = Writer(duck, on_commit=lambda: commits.append(1))
    try:
        first = rollup_job("daily", duck, aggregates, writer.run, max_periods=10)(NOW)
        assert (len(first.periods), first.done, len(commits)) == (10, False, 2)  # 7 + 3
        assert first.notes == ("10 more daily period(s) pending; the next run goes on",)
        rest = rollup_job("daily", duck, aggregates, writer.run)(NOW)
        assert len(rest.periods) == 10 and rest.done and rest.notes == ()
        assert sorted(first.periods + rest.periods) == [
            (NOW - dt.timedelta(days=n)).date() for n in range(20, 0, -1)]
        days = (NOW - dt.timedelta(days=20)).date(), (NOW - dt.timedelta(days=1)).date()
        stored = aggregates.query(*days)  # each day's activity and pattern summaries
        assert sum(r.detector == "activity" for r in stored) == 20
        assert first.rows_written + rest.rows_written == len(stored)
        commits.clear()
        idle = rollup_job("daily", duck, aggregates, writer.run)(NOW)
        assert idle.periods == () and idle.notes == ("nothing pending",) and commits == []
        stop = threading.Event()
        stop.set()
        fill(duck, 25)
        with pytest.raises(JobCancelledError):
            rollup_job("daily", duck, aggregates, writer.run, stop=stop)(NOW)
    finally:
        writer.close()


def test_service_jobs_follow_the_settings(duck: Store) -> None:
    fill(duck, 40)
    settings = Settings(cron_daily="5 1 * * *", retention_raw_days=30,
                        retention_batch_size=25)
    aggregates = SqlAggregateStore(duck)
    writer = Writer(duck)
    try:
        jobs = service_jobs(settings, duck, aggregates, writer.run)
        assert [(j.name, j.cron) for j in jobs] == [
            ("daily", "5 1 * * *"), ("weekly", "0 3 * * 0"), ("monthly", "0 3 1 * *"),
            ("patterns", "15 3 * * *"), ("retention", "30 3 * * *")]
        scheduler = JobScheduler(jobs, duck.default_timezone, clock=lambda: NOW)
        held = scheduler.run("retention")
        assert held.rows_deleted == 0  # nothing rolled up yet: nothing may go
        assert scheduler.run("daily").done
        purged = scheduler.run("retention")
    finally:
        writer.close()
    assert purged.rows_deleted == 10 * 3 and purged.done
    assert duck.count_events() == 30 * 3
