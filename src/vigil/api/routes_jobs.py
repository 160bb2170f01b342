"""The scheduled jobs (daily, weekly, monthly rollups, pattern detection and retention):
their state, and running one now.

The router's lifespan builds the jobs once the service state exists, their writes going
through the service's writer, and starts the cron schedule unless ``VIGIL_SCHEDULER=off``;
it stops the schedule at shutdown, before the aggregate and main stores close.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from vigil.api.auth import require
from vigil.api.errors import ApiError
from vigil.api.state import AppState, open_aggregates
from vigil.rollup.scheduler import (
    SCHEDULER_ROLE,
    JobBusyError,
    JobScheduler,
    UnknownJobError,
)
from vigil.rollup.service_jobs import service_jobs


def open_jobs(state: AppState) -> JobScheduler:
    """The service's jobs on a scheduler (not started)."""
    scheduler_stop = threading.Event()
    jobs = service_jobs(state.settings, state.store, open_aggregates(state), state.writer.run,
                        scheduler_stop)
    return JobScheduler(jobs, state.store.default_timezone, stop=scheduler_stop,
                        is_leader=lambda: state.store.claim_role(SCHEDULER_ROLE))


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    state: AppState = app.state.vigil
    scheduler = open_jobs(state)
    app.state.jobs = scheduler
    if state.settings.scheduler:
        scheduler.start()
    try:
        yield
    finally:
        await run_in_threadpool(scheduler.shutdown)


router = APIRouter(prefix="/api/v1/jobs", tags=["jobs"], lifespan=_lifespan)


def job_scheduler(request: Request) -> JobScheduler:
    """FastAPI dependency giving the service's job scheduler."""
    scheduler: JobScheduler = request.app.state.jobs
    return scheduler


@router.get("", dependencies=[Depends(require("read"))])
def list_jobs(scheduler: JobScheduler = Depends(job_scheduler)) -> dict[str, Any]:
    """Every job: its cron string, next run, last run (report), last error, run and failure
    counts; and whether the schedule runs in this process."""
    return {"scheduler": "running" if scheduler.started else "off",
            "timezone": scheduler.timezone,
            "jobs": [status.as_dict() for status in scheduler.statuses()]}


@router.post("/{name}/run", dependencies=[Depends(require("admin"))])
def run_job(name: str, scheduler: JobScheduler = Depends(job_scheduler)) -> dict[str, Any]:
    """Run a job now and answer its report (404: no such job; 409: a job is running;
    500: the job failed, with why — the failure shows in ``GET /api/v1/jobs`` too)."""
    try:
        report = scheduler.run(name)
    except UnknownJobError as exc:
        raise ApiError(404, f"no job {name!r}; jobs: {', '.join(scheduler.names)}",
                       "name") from exc
    except JobBusyError as exc:
        raise ApiError(409, str(exc), "name") from exc
    except Exception as exc:
        raise ApiError(500, f"job {name!r} failed: {type(exc).__name__}: {exc}") from exc
    return report.as_dict()
