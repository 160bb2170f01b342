"""The pattern detectors Vigil runs, and their daily summaries as aggregate records.

Each detector lives in a module of this package named in :data:`DETECTOR_MODULES` that
exposes one instance as ``DETECTOR``. :func:`detectors` loads them in that order;
:func:`summary_records` turns a detector's daily summaries into the ``daily`` aggregate
records the rollup job stores, and :func:`summaries_from_records` reads them back.

**Bundles.** A day with at most :data:`BUNDLE_MIN_ENTITIES` entities is stored one record
per entity (``GET /api/v1/aggregates?detector=patterns_time_of_day&entity=light.kitchen``
finds it). A busier day (a home of hundreds of entities) is stored in *bundles*: records
``_bundle_0000``, ``_bundle_0001``, … whose field ``bundle`` holds the summaries of many
entities as text of at most :data:`vigil.patterns.bundles.BUNDLE_BYTES` (InfluxDB keeps
string fields up to 64 KB; the text's format is in :mod:`vigil.patterns.bundles`),
``bundles`` how many bundles the day has and ``entities`` how many entities this one holds.
Reading ten records instead of five hundred is what keeps detection over 30 days fast.
:func:`summaries_from_records` reads both forms; where a day has bundles, only the
bundles written last count (those numbered below the ``bundles`` of ``_bundle_0000``) and
entity records of that day are ignored.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from operator import attrgetter
from typing import Any

import pyarrow as pa

from vigil.patterns.base import DaySummary, PatternDetector, summary_detector_name
from vigil.patterns.bundles import bundle_texts, decode_bundle
from vigil.rollup.aggregates import AggregateRecord

__all__ = ["BUNDLE_MIN_ENTITIES", "BUNDLE_PREFIX", "DETECTOR_MODULES", "PatternSummarizer",
           "detector_named", "detectors", "summaries_from_records", "summary_records"]

DETECTOR_MODULES = ("time_of_day", "cooccurrence", "sequence", "duration", "session",
                    "area", "day_type", "seasonal")
BUNDLE_PREFIX = "_bundle_"
"""Entity of bundle records: the prefix, then the bundle's number (four digits)."""
BUNDLE_MIN_ENTITIES = 64
"""A day with more entities than this is stored in bundles."""


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
    """The daily aggregate records of one detector's summaries of ``day``: one per entity,
    or bundles when there are more than :data:`BUNDLE_MIN_ENTITIES` entities."""
    name = summary_detector_name(detector.name)
    ordered = dict(sorted(summaries.items()))
    if len(ordered) <= BUNDLE_MIN_ENTITIES:
        return [AggregateRecord("daily", name, entity, day, fields)
                for entity, fields in ordered.items()]
    for entity, fields in ordered.items():  # what an entity record would have refused
        AggregateRecord("daily", name, entity, day, fields)
    texts = bundle_texts(ordered)
    return [AggregateRecord("daily", name, f"{BUNDLE_PREFIX}{i:04d}", day,
                            {"bundle": text, "bundles": len(texts), "entities": count})
            for i, (text, count) in enumerate(texts)]


def summaries_from_records(records: Iterable[AggregateRecord]) -> list[DaySummary]:
    """Stored records (entity records and bundles) back as summaries, by day and entity."""
    plain: list[AggregateRecord] = []
    bundled: dict[tuple[str, dt.date], list[AggregateRecord]] = {}
    for record in records:
        if _is_bundle(record):
            bundled.setdefault((record.detector, record.bucket), []).append(record)
        else:
            plain.append(record)
    with _collector_paused():
        found = [DaySummary(r.bucket, r.entity, r.fields) for r in plain
                 if (r.detector, r.bucket) not in bundled]
        for (_, day), group in bundled.items():
            for record in _current(group):
                found += [DaySummary(day, entity, fields)
                          for entity, fields in _decoded(record).items()]
        found.sort(key=attrgetter("day", "entity"))
    return found


def _decoded(record: AggregateRecord) -> dict[str, dict[str, Any]]:
    """The summaries of a bundle record (ValueError naming it when malformed)."""
    try:
        return decode_bundle(str(record.fields["bundle"]))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"aggregate record {record.detector}/{record.entity}/"
                         f"{record.bucket}: malformed bundle: {exc}") from exc


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection in the enclosed block (if it was on): decoding makes
    tens of thousands of lists and dicts, none of them cyclic, and each collection pass
    would walk every object alive."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


class PatternSummarizer:
    """A detector seen by the daily rollup job (a :class:`vigil.rollup.DailySummarizer`)."""

    def __init__(self, detector: PatternDetector) -> None:
        self.detector = detector
        self.name = summary_detector_name(detector.name)

    def summarize(self, day: dt.date, events: pa.Table) -> list[AggregateRecord]:
        """The detector's daily records of ``day``."""
        return summary_records(self.detector, day, self.detector.summarize(day, events))


def _is_bundle(record: AggregateRecord) -> bool:
    return (record.entity.startswith(BUNDLE_PREFIX)
            and record.entity[len(BUNDLE_PREFIX):].isdigit()
            and isinstance(record.fields.get("bundle"), str))


def _current(group: list[AggregateRecord]) -> list[AggregateRecord]:
    """The bundles of one detector and day written last, in order: bundle 0 is rewritten
    by every write, and says how many that write made."""
    numbered = sorted(((int(r.entity[len(BUNDLE_PREFIX):]), r) for r in group),
                      key=lambda pair: (pair[0], pair[1].entity))
    first = numbered[0][1] if numbered[0][0] == 0 else None
    count = first.fields.get("bundles") if first is not None else None
    if not isinstance(count, int | float) or isinstance(count, bool):
        return [record for _, record in numbered]
    return [record for number, record in numbered if number < count]
