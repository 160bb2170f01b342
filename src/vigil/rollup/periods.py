"""Bucket starts of the rollup jobs: a local day, an ISO week (its Monday), a month (its 1st).

Dates here are local dates as the hourly counts store them (each source's own zone), so a
bucket is the same set of local days for every source, and its start never depends on when
or where a job runs.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

__all__ = ["ROLLUP_JOBS", "bucket_end", "bucket_start", "check_job", "complete_before",
           "is_complete", "periods_overlapping"]

ROLLUP_JOBS: tuple[str, ...] = ("daily", "weekly", "monthly")
"""The rollup jobs; each writes the aggregate layer of the same name."""


def check_job(job: str) -> str:
    """``job`` if it is a rollup job, else ValueError."""
    if job not in ROLLUP_JOBS:
        raise ValueError(f"job must be one of {', '.join(ROLLUP_JOBS)}, got {job!r}")
    return job


def bucket_start(job: str, day: dt.date) -> dt.date:
    """The first local day of ``job``'s bucket holding ``day``."""
    check_job(job)
    if job == "weekly":
        return day - dt.timedelta(days=day.weekday())
    if job == "monthly":
        return day.replace(day=1)
    return day


def bucket_end(job: str, start: dt.date) -> dt.date:
    """The first local day after the bucket starting on ``start``."""
    check_job(job)
    if job == "weekly":
        return start + dt.timedelta(days=7)
    if job == "monthly":
        return (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return start + dt.timedelta(days=1)


def periods_overlapping(job: str, start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The first local day of the first bucket and the last of the last that overlap
    ``start``-``end``: the whole buckets the range touches."""
    first = bucket_start(job, start)
    last = bucket_end(job, bucket_start(job, end)) - dt.timedelta(days=1)
    return first, last


def complete_before(now: dt.datetime, zones: Iterable[str]) -> dt.date:
    """The earliest local date of ``now`` over ``zones`` (UTC when there are none): every
    local day before it has ended in all of them."""
    if now.tzinfo is None:
        raise ValueError("now must be time-zone aware")
    return min(now.astimezone(ZoneInfo(zone)).date() for zone in set(zones) or {"UTC"})


def is_complete(job: str, start: dt.date, cutoff: dt.date) -> bool:
    """Whether the bucket starting on ``start`` ended before local date ``cutoff``."""
    return bucket_end(job, start) <= cutoff
