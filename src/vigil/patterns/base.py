"""What every pattern detector is: a daily summary, and detection from N days of them.

A detector is a pure object (no I/O, no clock). Each day, while that day's raw events are
complete, :meth:`PatternDetector.summarize` turns one local day of events into small JSON
summaries, one per entity (a source, an item or ``HOME_ENTITY``); the daily rollup job
stores them through the aggregate store (detector name ``patterns_<name>``). Detection then
reads the summaries of the last ``window_days`` days and returns :class:`Pattern` objects.
:meth:`PatternDetector.detect_raw` is the old way, a direct batch over all raw events of the
window: it must find the same patterns (confidences within 0.05), which the trust tests check.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

__all__ = ["HOME_ENTITY", "DaySummary", "DetectOptions", "Pattern", "PatternDetector",
           "summary_detector_name"]

HOME_ENTITY = "_home"
"""The entity of summaries about the whole home (all sources together)."""


def summary_detector_name(name: str) -> str:
    """The aggregate-store detector (InfluxDB measurement) of a pattern detector's summaries."""
    return f"patterns_{name}"


@dataclass(frozen=True)
class DaySummary:
    """One detector's summary of one entity for one local day, as stored."""

    day: dt.date
    entity: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class DetectOptions:
    """Knobs shared by every detector; each detector documents which it reads."""

    window_days: int = 30
    """Days of summaries detection looks at, ending with ``end`` (inclusive)."""
    co_window_s: int = 300
    """Co-occurrence and sequence window: two activities within it belong together."""
    min_confidence: float = 0.5
    """Patterns with a lower confidence are not returned."""
    min_days: int = 5
    """A pattern needs evidence from at least this many distinct days."""


@dataclass(frozen=True)
class Pattern:
    """One detected pattern: what, who, how sure, and the evidence."""

    type: str
    """The detector's name, e.g. ``time_of_day``."""
    key: str
    """Unique within the type: tells this pattern from others of the type (entities and
    variant, e.g. ``light.kitchen|on|weekday``). Stable from one detection to the next."""
    entities: tuple[str, ...]
    confidence: float
    description: str
    """One sentence a person reads, e.g. "light.kitchen turns on around 06:40 (±6 min)"."""
    evidence: dict[str, Any] = field(default_factory=dict)
    """JSON-able: at least ``days_observed`` and the counts that back the confidence."""
    first_seen: dt.date | None = None
    last_seen: dt.date | None = None

    def __post_init__(self) -> None:
        if not (0.0 <= self.confidence <= 1.0) or math.isnan(self.confidence):
            raise ValueError(f"pattern {self.type}:{self.key}: confidence {self.confidence} "
                             "is outside [0, 1]")
        if not self.entities:
            raise ValueError(f"pattern {self.type}:{self.key} names no entity")

    @property
    def pattern_id(self) -> str:
        """``type:key``: what identifies the pattern in the store and the API."""
        return f"{self.type}:{self.key}"


@runtime_checkable
class PatternDetector(Protocol):
    """A pattern detector: daily summaries in, patterns out; pure and deterministic."""

    name: str
    """Unique, lower-case with underscores (``time_of_day``)."""

    def summarize(self, day: dt.date, events: pa.Table) -> dict[str, dict[str, Any]]:
        """Summaries of local day ``day`` by entity: ``{entity: fields}``. ``events`` holds
        the event columns plus ``timezone`` and ``area`` (see :mod:`vigil.patterns.dayevents`),
        sorted by time and id; it may be empty. Fields are JSON-able and non-empty; an
        entity with nothing to say is left out."""
        ...

    def detect(self, summaries: Sequence[DaySummary], end: dt.date,
               options: DetectOptions) -> list[Pattern]:
        """Patterns from the summaries of the ``options.window_days`` days ending ``end``
        (days without a summary had no activity), sorted by key."""
        ...

    def detect_raw(self, events: pa.Table, end: dt.date, options: DetectOptions
                   ) -> list[Pattern]:
        """The same patterns straight from the raw events of the window (the direct
        batch): written independently of :meth:`summarize`, used to check it."""
        ...
