"""Per-detector daily summaries: the registry the daily rollup job runs.

A :class:`DailySummarizer` turns the raw events of one local day (all sources, each in its
own zone) into ``daily`` aggregate records of that day: sequences, co-occurrences, durations
and the like, which need event order and so cannot come from the hourly counts. The daily
job runs the pattern detectors' summarizers (:mod:`vigil.patterns.registry`) and every one
registered with :func:`register_summarizer` on each day it processes, while that day's raw
events are still complete.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import pyarrow as pa

from vigil.rollup.aggregates import AggregateRecord

__all__ = ["DailySummarizer", "SummaryError", "register_summarizer", "registered_summarizers",
           "summarize_day", "temporarily_registered", "unregister_summarizer"]


class SummaryError(ValueError):
    """A summarizer returned a record that is not a daily record of the day it was given."""


@runtime_checkable
class DailySummarizer(Protocol):
    """Summarises one local day of raw events; no I/O, no clock."""

    name: str
    """Unique among the registered summarizers (usually the detector name)."""

    def summarize(self, day: dt.date, events: pa.Table) -> list[AggregateRecord]:
        """Daily records (bucket ``day``) from ``events``: the columns of
        :data:`vigil.store.rollup_tables.DAY_EVENT_SCHEMA`, sorted by time and id,
        never empty."""
        ...


_REGISTRY: dict[str, DailySummarizer] = {}


def register_summarizer(summarizer: DailySummarizer) -> None:
    """Add a summarizer; a name registered already raises ValueError."""
    if not isinstance(summarizer, DailySummarizer):
        raise TypeError(f"{summarizer!r} is not a DailySummarizer (name and summarize)")
    if summarizer.name in _REGISTRY:
        raise ValueError(f"a daily summarizer named {summarizer.name!r} is registered already")
    _REGISTRY[summarizer.name] = summarizer


def unregister_summarizer(name: str) -> None:
    """Remove a summarizer (KeyError if none has that name)."""
    del _REGISTRY[name]


def registered_summarizers() -> tuple[DailySummarizer, ...]:
    """The registered summarizers, by name."""
    return tuple(_REGISTRY[name] for name in sorted(_REGISTRY))


@contextmanager
def temporarily_registered(*summarizers: DailySummarizer) -> Iterator[None]:
    """Summarizers registered for the enclosed block only."""
    for summarizer in summarizers:
        register_summarizer(summarizer)
    try:
        yield
    finally:
        for summarizer in summarizers:
            _REGISTRY.pop(summarizer.name, None)


def summarize_day(day: dt.date, events: pa.Table,
                  summarizers: tuple[DailySummarizer, ...]) -> list[AggregateRecord]:
    """The records of every summarizer for ``day``, each checked to be a daily record of
    that day (SummaryError names the summarizer otherwise)."""
    records: list[AggregateRecord] = []
    for summarizer in summarizers:
        for record in summarizer.summarize(day, events):
            if not isinstance(record, AggregateRecord):
                raise SummaryError(f"summarizer {summarizer.name!r} returned {record!r}, "
                                   "not an AggregateRecord")
            if record.layer != "daily" or record.bucket != day:
                raise SummaryError(f"summarizer {summarizer.name!r} returned a {record.layer} "
                                   f"record of {record.bucket} for day {day}")
            records.append(record)
    return records
