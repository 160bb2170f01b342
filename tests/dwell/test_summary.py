"""Session summaries: every status counted, duration statistics from complete sessions only."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.dwell import STATUSES, DurationStats, pair_sessions, summarize_sessions

T0 = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)


def session_table(rows: list[tuple[str, int | None]]) -> pa.Table:
    return pa.table(
        {
            "status": pa.array([status for status, _ in rows], pa.string()),
            "duration_ms": pa.array([ms for _, ms in rows], pa.int64()),
        }
    )


def linear_percentile(values: list[int], q: float) -> float:
    """Linear interpolation between closest ranks, written out by hand."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_percentiles_use_linear_interpolation() -> None:
    stats = DurationStats.of([4000, 1000, 3000, 2000])
    assert stats == DurationStats(
        count=4, total_ms=10_000, mean_ms=2500.0, median_ms=2500.0, p90_ms=3700.0, max_ms=4000
    )


def test_no_complete_sessions_gives_empty_stats_but_counts_everything() -> None:
    summary = summarize_sessions(session_table([("open", None), ("orphan_exit", None)]))
    assert summary.counts == {"complete": 0, "open": 1, "timed_out": 0, "orphan_exit": 1}
    assert summary.durations == DurationStats(0, 0, None, None, None, None)
    assert (summary.total, summary.incomplete) == (2, 2)


def test_incomplete_sessions_are_counted_but_never_bias_durations() -> None:
    events = pa.Table.from_pylist(
        [
            {"event_id": "a", "event_type": "entry", "ts": T0},
            {"event_id": "b", "event_type": "exit", "ts": T0 + timedelta(minutes=10)},
            {"event_id": "c", "event_type": "entry", "ts": T0 + timedelta(minutes=20)},
            {"event_id": "d", "event_type": "entry", "ts": T0 + timedelta(minutes=30)},
            {"event_id": "e", "event_type": "exit", "ts": T0 + timedelta(hours=9)},
        ]
    )
    events = events.append_column("source_id", pa.array(["cam"] * 5))
    events = events.append_column("subject_id", pa.array(["p"] * 5))
    events = events.append_column("zone", pa.nulls(5, pa.string()))
    events = events.set_column(2, "ts", events.column("ts").cast(pa.timestamp("us", "UTC")))
    summary = summarize_sessions(pair_sessions(events, data_end=T0 + timedelta(hours=9)))
    assert summary.counts == {"complete": 1, "open": 0, "timed_out": 2, "orphan_exit": 1}
    assert summary.durations.count == 1
    assert summary.durations.mean_ms == summary.durations.max_ms == 600_000
    assert summary.incomplete == 3


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(STATUSES), st.integers(0, 10**9)),
        max_size=60,
    )
)
def test_summary_matches_brute_force(rows: list[tuple[str, int]]) -> None:
    table = session_table([(s, ms if s == "complete" else None) for s, ms in rows])
    summary = summarize_sessions(table)
    complete = [ms for s, ms in rows if s == "complete"]
    assert summary.counts == {name: sum(s == name for s, _ in rows) for name in STATUSES}
    assert summary.total == len(rows)
    stats = summary.durations
    assert stats.count == len(complete)
    assert stats.total_ms == sum(complete)
    if not complete:
        assert stats.mean_ms is stats.median_ms is stats.p90_ms is stats.max_ms is None
        return
    assert stats.mean_ms == pytest.approx(sum(complete) / len(complete))
    assert stats.median_ms == pytest.approx(linear_percentile(complete, 0.5))
    assert stats.p90_ms == pytest.approx(linear_percentile(complete, 0.9))
    assert stats.max_ms == max(complete)
