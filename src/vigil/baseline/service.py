"""Baselines read from a store: the hourly counts of a source's window, then the pure
computation of :mod:`vigil.baseline.compute`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from vigil.baseline.compute import (
    BaselineConfig,
    HourlyRow,
    SourceHistory,
    compute_baseline,
    window_dates,
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
    """The baseline of ``source_id`` at ``as_of``; ``None`` for an unknown source."""
    timezone = store.source_timezones().get(source_id)
    if timezone is None:
        return None
    count, first, last = store.source_span(source_id)
    history = SourceHistory(source_id, timezone, count, first, last)
    start, end = window_dates(as_of, timezone, config)
    rows = (HourlyRow(*row) for row in store.hourly_totals(source_id, start, end))
    return compute_baseline(history, rows, as_of, config)


def all_baselines(store: Store, as_of: dt.datetime, config: BaselineConfig
                  ) -> list[dict[str, Any]]:
    """The baseline of every source, by source id."""
    found = (baseline_for(store, source_id, as_of, config)
             for source_id in sorted(store.source_timezones()))
    return [baseline for baseline in found if baseline is not None]
