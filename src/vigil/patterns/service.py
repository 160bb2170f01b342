"""Pattern detection at the edge: read the daily summaries, detect, store the patterns.

:func:`detect_patterns` is the scheduled path: each detector reads its daily summaries of
the window ending ``end`` from the aggregate store (written once per day by the daily rollup
job) and detects (:func:`detect_from_summaries`); the patterns found replace the stored
ones. :func:`detect_patterns_raw` detects the same from the raw events of the window, for
checking the summaries against a direct batch (tests, benchmarks, ``vigil patterns detect
--raw``); :func:`save_run` stores either.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

import pyarrow.compute as pc

from vigil.patterns.base import DetectOptions, Pattern, PatternDetector, summary_detector_name

if TYPE_CHECKING:
    from vigil.rollup.aggregates import AggregateStore
    from vigil.rollup.retention import WriteRunner
    from vigil.store.base import Store

__all__ = ["DEFAULT_OPTIONS", "PatternRun", "detect_from_summaries", "detect_patterns",
           "detect_patterns_raw", "detector_window", "save_run"]

DEFAULT_OPTIONS = DetectOptions()


@dataclass(frozen=True)
class PatternRun:
    """One detection: the window's last day, where it read from, what it found."""

    end: dt.date
    start: dt.date
    """The first day any detector read (detectors may look back further than others)."""
    source: Literal["summaries", "raw"]
    detectors: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    read: int
    """Summary records read (``summaries``) or raw events read (``raw``)."""
    duration_s: float
    stored: int | None = None
    """Patterns stored by :func:`save_run` (``None``: not stored)."""

    @property
    def counts(self) -> dict[str, int]:
        """Patterns found per detector (zero included), in detector order."""
        found = {name: 0 for name in self.detectors}
        for pattern in self.patterns:
            found[pattern.type] = found.get(pattern.type, 0) + 1
        return found

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (the patterns themselves are in the store)."""
        return {"end": self.end.isoformat(), "start": self.start.isoformat(),
                "source": self.source, "patterns": len(self.patterns), "counts": self.counts,
                "read": self.read, "duration_s": round(self.duration_s, 6),
                "stored": self.stored}


def detector_window(detector: PatternDetector, options: DetectOptions) -> int:
    """Days the detector looks at: its own ``window_days`` if it has one, else the
    options'."""
    window = getattr(detector, "window_days", None) or options.window_days
    if window < 1:
        raise ValueError(f"detector {detector.name}: window of {window} days")
    return int(window)


def detect_patterns(store: Store, aggregates: AggregateStore, end: dt.date, now: dt.datetime,
                    options: DetectOptions = DEFAULT_OPTIONS, *,
                    run_write: WriteRunner | None = None,
                    detectors: Sequence[PatternDetector] | None = None) -> PatternRun:
    """Detect from the daily summaries of the window ending ``end`` and store the result
    (through ``run_write`` when given, the service's writer; else in a transaction of
    ``store``). ``detectors`` defaults to every registered one."""
    run = detect_from_summaries(aggregates, end, options, detectors=detectors)
    return save_run(store, run, now, run_write)


def detect_from_summaries(aggregates: AggregateStore, end: dt.date,
                          options: DetectOptions = DEFAULT_OPTIONS, *,
                          detectors: Sequence[PatternDetector] | None = None) -> PatternRun:
    """What :func:`detect_patterns` finds, not stored yet (see :func:`save_run`)."""
    from vigil.patterns.registry import summaries_from_records

    started = time.perf_counter()
    chosen = _chosen(detectors)
    found: list[Pattern] = []
    read = 0
    for detector in chosen:
        window = detector_window(detector, options)
        records = aggregates.query(end - dt.timedelta(days=window - 1), end,
                                   detector=summary_detector_name(detector.name),
                                   layer="daily")
        read += len(records)
        found += detector.detect(summaries_from_records(records), end,
                                 replace(options, window_days=window))
    return _run(end, "summaries", chosen, found, read, options, started)


def detect_patterns_raw(store: Store, end: dt.date, options: DetectOptions = DEFAULT_OPTIONS,
                        *, detectors: Sequence[PatternDetector] | None = None) -> PatternRun:
    """Detect straight from the raw events of the window ending ``end`` (each detector's
    ``detect_raw``); nothing is stored (see :func:`save_run`)."""
    started = time.perf_counter()
    chosen = _chosen(detectors)
    longest = max((detector_window(d, options) for d in chosen), default=1)
    events = store.events_of_local_days(end - dt.timedelta(days=longest - 1), end)
    found: list[Pattern] = []
    for detector in chosen:
        window = detector_window(detector, options)
        first = end - dt.timedelta(days=window - 1)
        mine = (events.filter(pc.greater_equal(events.column("local_date"), first))
                if events.num_rows else events)
        found += detector.detect_raw(mine, end, replace(options, window_days=window))
    return _run(end, "raw", chosen, found, events.num_rows, options, started)


def save_run(store: Store, run: PatternRun, now: dt.datetime,
             run_write: WriteRunner | None = None) -> PatternRun:
    """Store a run's patterns in place of the previous ones (see
    :meth:`vigil.store.base.Store.replace_patterns`); the run with ``stored`` set."""
    started = time.perf_counter()
    patterns, end = run.patterns, run.end
    if run_write is None:
        stored = store.replace_patterns(patterns, end, now)
    else:
        stored = run_write(lambda s: s.replace_patterns(patterns, end, now))
    return replace(run, stored=stored,
                   duration_s=run.duration_s + time.perf_counter() - started)


def _chosen(detectors: Sequence[PatternDetector] | None) -> tuple[PatternDetector, ...]:
    if detectors is not None:
        return tuple(detectors)
    from vigil.patterns.registry import detectors as registered

    return registered()


def _run(end: dt.date, source: Literal["summaries", "raw"],
         chosen: Sequence[PatternDetector], found: list[Pattern], read: int,
         options: DetectOptions, started: float) -> PatternRun:
    longest = max((detector_window(d, options) for d in chosen), default=1)
    return PatternRun(end=end, start=end - dt.timedelta(days=longest - 1), source=source,
                      detectors=tuple(d.name for d in chosen),
                      patterns=tuple(sorted(found, key=lambda p: p.pattern_id)), read=read,
                      duration_s=time.perf_counter() - started)
