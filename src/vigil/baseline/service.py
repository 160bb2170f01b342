"""Baselines read from a store: a source's hourly counts and the ends of its event log, then
the pure computation of :mod:`vigil.baseline.compute`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from vigil.baseline.compute import (
    BaselineConfig,
    HourlyCounts,
    SourceHistory,
    compute_baseline,
    utc_range,
)
from vigil.config import Settings
from vigil.store import Store


def baseline_config(settings: Settings, **overrides: Any) -> BaselineConfig:
    """The baseline settings, with any given ``overrides`` that are not ``None``."""
    values: dict[str, Any] = {"window_weeks": settings.baseline_window_weeks,
              "half_life_days": settings.baseline_half_life_days,
              "min_days": settings.baseline_min_days,
              "min_events": settings.baseline_min_events}
    values.update({k: v for k, v in overrides.items() if v is not None})
    return BaselineConfig(**values)


def baseline_for(store: Store, source_id: str, as_of: dt.datetime,
                 config: BaselineConfig) -> dict[str, Any] | None:
    """The baseline of ``source_id`` at ``as_of``; ``None`` for an unknown source.

    Two reads: the source's zone and hourly counts (summed here, set-based), then its first
    and last event, looked for around the first and last hour of those counts.
    """
    found = store.source_hourly_counts(source_id)
    if found is None:
        return None
    timezone, table = found
    hourly = HourlyCounts(table)
    count, first_hour, last_hour = hourly.span()
    if first_hour is None or last_hour is None:
        first, last = store.source_event_span(source_id)
    else:
        first, last = store.source_event_span(source_id, utc_range(first_hour, timezone),
                                              utc_range(last_hour, timezone))
    history = SourceHistory(source_id, timezone, count, first, last)
    return compute_baseline(history, hourly, as_of, config)


def all_baselines(store: Store, as_of: dt.datetime, config: BaselineConfig
                  ) -> list[dict[str, Any]]:
    """The baseline of every source, by source id."""
    found = (baseline_for(store, source_id, as_of, config)
             for source_id in sorted(store.source_timezones()))
    return [baseline for baseline in found if baseline is not None]
