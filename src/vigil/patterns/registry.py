"""The pattern detectors Vigil runs, and their daily summaries as aggregate records.

Each detector lives in a module of this package named in :data:`DETECTOR_MODULES` that
exposes one instance as ``DETECTOR``. :func:`detectors` loads them in that order;
:func:`summary_records` turns a detector's daily summaries into the ``daily`` aggregate
records the rollup job stores, and :func:`summaries_from_records` reads them back.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterable
from functools import cache
from typing import Any

import pyarrow as pa

from vigil.patterns.base import DaySummary, PatternDetector, summary_detector_name
from vigil.rollup.aggregates import AggregateRecord

__all__ = ["DETECTOR_MODULES", "PatternSummarizer", "detector_named", "detectors",
           "summaries_from_records", "summary_records"]

DETECTOR_MODULES = ("time_of_day", "cooccurrence", "sequence", "duration", "session",
                    "area", "day_type", "seasonal")


@cache
def detectors() -> tuple[PatternDetector, ...]:
    """Every detector, in :data:`DETECTOR_MODULES` order."""
    found: list[PatternDetector] = []
    for module_name in DETECTOR_MODULES:
        detector = importlib.import_module(f"vigil.patterns.{module_name}").DETECTOR
        if not isinstance(detector, PatternDetector):
            raise TypeError(f"vigil.patterns.{module_name}.DETECTOR is not a PatternDetector")
        found.append(detector)
    return tuple(found)


def detector_named(name: str) -> PatternDetector:
    """The detector called ``name`` (KeyError naming the known ones otherwise)."""
    for detector in detectors():
        if detector.name == name:
            return detector
    known = ", ".join(d.name for d in detectors())
    raise KeyError(f"no pattern detector {name!r} (known: {known})")


def summary_records(detector: PatternDetector, day: dt.date,
                    summaries: dict[str, dict[str, Any]]) -> list[AggregateRecord]:
    """The daily aggregate records of one detector's summaries of ``day``."""
    name = summary_detector_name(detector.name)
    return [AggregateRecord("daily", name, entity, day, fields)
            for entity, fields in sorted(summaries.items())]


def summaries_from_records(records: Iterable[AggregateRecord]) -> list[DaySummary]:
    """Stored records back as summaries, by day and entity."""
    found = [DaySummary(r.bucket, r.entity, r.fields) for r in records]
    return sorted(found, key=lambda s: (s.day, s.entity))


class PatternSummarizer:
    """A detector seen by the daily rollup job (a :class:`vigil.rollup.DailySummarizer`)."""

    def __init__(self, detector: PatternDetector) -> None:
        self.detector = detector
        self.name = summary_detector_name(detector.name)

    def summarize(self, day: dt.date, events: pa.Table) -> list[AggregateRecord]:
        """The detector's daily records of ``day``."""
        return summary_records(self.detector, day, self.detector.summarize(day, events))
