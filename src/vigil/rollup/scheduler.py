"""The scheduled jobs of ``vigil serve``: rollups and retention on cron schedules.

:class:`JobScheduler` runs :data:`~vigil.rollup.jobreport.JobFunction` jobs on an APScheduler
``BackgroundScheduler`` with cron triggers in the store's default time zone. Jobs run one at
a time (one executor thread, ``max_instances=1``, missed runs coalesced); the scheduler reads
the clock and hands ``now`` to the job. Per job it keeps the last run's report, its error
(message and time), run and failure counts and the next run time, and mirrors them in
``/metrics``. A job that raises is logged with why and retried at its next run; its ledger
is the job's to leave unchanged. On start the rollup jobs run once in the background, so the
periods missed while the service was down are processed (bounded by ``max_periods``), and
then pattern detection, so the patterns cover the days just summarised.

**Writes.** The embedded DuckDB file has one write connection, fed by the service's single
writer (:class:`vigil.writer.Writer`). The jobs of :mod:`vigil.rollup.service_jobs` run
their writes *through the writer*, in bounded steps: a rollup catches up a few periods per
write function (each one writer transaction holding the periods' records and ledger rows),
the purge deletes one batch per write function. Ingest's group commits run between the
steps, no statement ever reaches the write connection from another thread, and each commit
invalidates the analytics cache as every write does. On PostgreSQL the same path is used;
with several worker processes only the one holding the ``scheduler`` role runs the cron
triggers.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor  # type: ignore[import-untyped]
from apscheduler.schedulers.background import (  # type: ignore[import-untyped]
    BackgroundScheduler,
)

from vigil.metrics import (
    JOB_FAILURES,
    JOB_LAST_DURATION,
    JOB_LAST_ROWS,
    JOB_LAST_SUCCESS,
    JOB_RUNS,
)
from vigil.rollup.crontab import cron_trigger
from vigil.rollup.jobreport import JobFunction, JobReport

__all__ = ["JobBusyError", "JobCancelledError", "JobScheduler", "JobStatus", "ScheduledJob",
           "UnknownJobError"]

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
CATCH_UP_JOBS = ("daily", "weekly", "monthly", "patterns")
"""Jobs run once at start, in this order (patterns after the daily summaries it reads)."""
MISFIRE_GRACE_SECONDS = 6 * 3600
"""A run missed by up to this much (a long job before it, a busy machine) still happens."""
SCHEDULER_ROLE = "scheduler"


class UnknownJobError(KeyError):
    """No job has that name."""


class JobBusyError(RuntimeError):
    """A job is running already; jobs run one at a time."""

    def __init__(self, running: str) -> None:
        super().__init__(f"job {running!r} is running; jobs run one at a time")
        self.running = running


class JobCancelledError(RuntimeError):
    """The scheduler is stopping: a job stops between two of its steps."""


# -- the scheduler ----------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduledJob:
    """A job, its cron string and the function that runs it."""

    name: str
    cron: str
    run: JobFunction


@dataclass(frozen=True)
class JobStatus:
    """What is known about one job (a snapshot)."""

    name: str
    cron: str
    next_run: dt.datetime | None
    running: bool
    runs: int
    failures: int
    last_run: JobReport | None
    """The last successful run."""
    last_error: str | None
    last_error_at: dt.datetime | None
    last_outcome: str | None
    """``ok`` or ``failed``: how the last run ended (``None``: never run)."""

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name, "cron": self.cron,
            "next_run": self.next_run.isoformat() if self.next_run else None,
            "running": self.running, "last_outcome": self.last_outcome,
            "last_run": self.last_run.as_dict() if self.last_run else None,
            "last_error": ({"message": self.last_error,
                            "at": self.last_error_at.isoformat() if self.last_error_at
                            else None} if self.last_error is not None else None),
            "runs": self.runs, "failures": self.failures,
        }


@dataclass
class _JobState:
    job: ScheduledJob
    runs: int = 0
    failures: int = 0
    last_run: JobReport | None = None
    last_error: str | None = None
    last_error_at: dt.datetime | None = None
    last_outcome: str | None = None


@dataclass
class _Running:
    name: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def utc_now() -> dt.datetime:
    """The wall clock (the scheduler is an edge of the system)."""
    return dt.datetime.now(dt.UTC)


class JobScheduler:
    """Runs jobs on their cron schedules and on request; see the module docstring.

    ``is_leader`` is asked before each scheduled run (several processes: only one runs the
    schedule); ``stop`` is set when the scheduler shuts down, for jobs to stop between steps.
    """

    def __init__(self, jobs: Iterable[ScheduledJob], timezone: str, *,
                 clock: Clock = utc_now, catch_up: Sequence[str] = CATCH_UP_JOBS,
                 is_leader: Callable[[], bool] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.timezone = timezone
        self._states = {job.name: _JobState(job) for job in jobs}
        self._triggers = {name: cron_trigger(state.job.cron, timezone)
                          for name, state in self._states.items()}
        self._clock = clock
        self._catch_up = [name for name in catch_up if name in self._states]
        self._is_leader = is_leader
        self._catch_up_thread: threading.Thread | None = None
        self.stop = stop or threading.Event()
        self._running = _Running()
        self._guard = threading.Lock()
        self._idle = threading.Condition(self._guard)
        self._pending_catch_up = False
        self._scheduler: BackgroundScheduler | None = None

    @property
    def names(self) -> list[str]:
        return list(self._states)

    @property
    def started(self) -> bool:
        return self._scheduler is not None

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self, catch_up: bool = True) -> None:
        """Start the cron triggers (and, unless told not to, the catch-up run)."""
        if self._scheduler is not None:
            return
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(1)}, timezone=ZoneInfo(self.timezone),
            job_defaults={"max_instances": 1, "coalesce": True,
                          "misfire_grace_time": MISFIRE_GRACE_SECONDS})
        for name in self._states:
            scheduler.add_job(self._scheduled, self._triggers[name], args=[name], id=name,
                              name=name)
        scheduler.start()
        self._scheduler = scheduler
        if catch_up and self._catch_up:
            # A thread of its own, not a one-off APScheduler job: the scheduler's loop removes
            # such a job after it ran, which races with a shutdown soon after start.
            with self._guard:
                self._pending_catch_up = True
            self._catch_up_thread = threading.Thread(target=self._run_catch_up,
                                                     name="vigil-catch-up", daemon=True)
            self._catch_up_thread.start()
        log.info("scheduled jobs started (%s, time zone %s)", ", ".join(
            f"{name} '{state.job.cron}'" for name, state in self._states.items()),
            self.timezone)

    def shutdown(self) -> None:
        """Stop the triggers; a running job stops at its next step, and is waited for."""
        self.stop.set()
        if self._catch_up_thread is not None:
            self._catch_up_thread.join()
            self._catch_up_thread = None
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None

    # -- running -----------------------------------------------------------------------------
    def run(self, name: str) -> JobReport:
        """Run job ``name`` now in the calling thread and return its report; raises
        :class:`UnknownJobError`, :class:`JobBusyError` (a job is running), or what the job
        raised (after recording it)."""
        if name not in self._states:
            raise UnknownJobError(name)
        if not self._running.lock.acquire(blocking=False):
            raise JobBusyError(self._running.name or "?")
        try:
            outcome = self._execute(name)
        finally:
            self._release()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs and the catch-up (if started) is over."""
        with self._idle:
            return self._idle.wait_for(
                lambda: self._running.name is None and not self._pending_catch_up, timeout)

    def _scheduled(self, name: str) -> None:
        """A cron trigger fired: run the job (after the one running, if any) unless another
        process holds the schedule. A failure is recorded and logged; the next run retries."""
        if self._is_leader is not None and not self._is_leader():
            log.debug("job %s not run here: another process runs the scheduled jobs", name)
            return
        self._running.lock.acquire()
        try:
            self._execute(name)
        finally:
            self._release()

    def _run_catch_up(self) -> None:
        """The catch-up at start: each rollup job once, in order."""
        try:
            for name in self._catch_up:
                if self.stop.is_set():
                    return
                self._scheduled(name)
        finally:
            with self._idle:
                self._pending_catch_up = False
                self._idle.notify_all()

    def _release(self) -> None:
        with self._idle:
            self._running.name = None
            self._idle.notify_all()
        self._running.lock.release()

    def _execute(self, name: str) -> JobReport | Exception:
        """Run a job (the caller holds the run lock) and record how it went: its report, or
        the exception it raised."""
        state = self._states[name]
        with self._idle:
            self._running.name = name
        now = self._clock()
        started = time.perf_counter()
        try:
            report = state.job.run(now)
        except Exception as exc:
            self._failed(state, now, time.perf_counter() - started, exc)
            return exc
        self._succeeded(state, report)
        return report

    def _failed(self, state: _JobState, now: dt.datetime, duration: float,
                exc: Exception) -> None:
        name = state.job.name
        message = f"{type(exc).__name__}: {exc}"
        with self._guard:
            state.runs += 1
            state.failures += 1
            state.last_error, state.last_error_at = message, now
            state.last_outcome = "failed"
        JOB_RUNS.labels(name).inc()
        JOB_FAILURES.labels(name).inc()
        JOB_LAST_DURATION.labels(name).set(duration)
        log.error("job %s failed after %.1f s: %s; the next run retries", name, duration,
                  message, exc_info=exc)

    def _succeeded(self, state: _JobState, report: JobReport) -> None:
        name = state.job.name
        with self._guard:
            state.runs += 1
            state.last_run, state.last_outcome = report, "ok"
        JOB_RUNS.labels(name).inc()
        JOB_LAST_DURATION.labels(name).set(report.duration_s)
        finished = report.started_at + dt.timedelta(seconds=report.duration_s)
        JOB_LAST_SUCCESS.labels(name).set(finished.timestamp())
        JOB_LAST_ROWS.labels(name, "written").set(report.rows_written)
        JOB_LAST_ROWS.labels(name, "deleted").set(report.rows_deleted)
        log.info("job %s done in %.2f s: %d period(s), %d row(s) written, %d deleted%s",
                 name, report.duration_s, len(report.periods), report.rows_written,
                 report.rows_deleted, "" if report.done else " (more to do: next run)")

    # -- reading ------------------------------------------------------------------------------
    def statuses(self) -> list[JobStatus]:
        """Every job's status, in the order the jobs were given."""
        with self._guard:
            running = self._running.name
            states = [replace(state) for state in self._states.values()]
        return [JobStatus(name=s.job.name, cron=s.job.cron, next_run=self._next_run(s.job.name),
                          running=s.job.name == running, runs=s.runs, failures=s.failures,
                          last_run=s.last_run, last_error=s.last_error,
                          last_error_at=s.last_error_at, last_outcome=s.last_outcome)
                for s in states]

    def _next_run(self, name: str) -> dt.datetime | None:
        scheduler = self._scheduler
        if scheduler is None:
            return None
        job = scheduler.get_job(name)
        return None if job is None else job.next_run_time
