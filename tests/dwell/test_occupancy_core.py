"""The numpy occupancy core against the instant-by-instant reference, on random intervals
with shared instants, in the 32-bit offset range and beyond it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dwell import reference
from vigil.dwell.occupancy import occupancy

BASE = 1_700_000_000_000
WIDE = 2**33  # ms: wider than the 32-bit offsets the sort uses when it can


@st.composite
def cases(draw: st.DrawFn, scale: int) -> tuple[list[tuple[int, int]], list[int]]:
    """Intervals and bucket edges on a coarse grid, so that many instants coincide."""
    grid = st.integers(0, 40).map(lambda k: BASE + k * scale)
    intervals = draw(st.lists(st.tuples(grid, grid), max_size=30))
    edges = sorted(set(draw(st.lists(grid, min_size=2, max_size=8))))
    if len(edges) < 2:
        edges = [BASE, BASE + scale]
    return intervals, edges


def check(intervals: list[tuple[int, int]], edges: list[int]) -> None:
    starts = np.array([a for a, _ in intervals], dtype=np.int64)
    ends = np.array([b for _, b in intervals], dtype=np.int64)
    series = occupancy(starts, ends, np.array(edges, dtype=np.int64))
    maxima, means = reference.occupancy(intervals, edges)
    assert series.max.tolist() == maxima
    assert series.mean.tolist() == pytest.approx(means, rel=1e-12, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(cases(scale=60_000))
def test_occupancy_equals_reference_in_the_32_bit_range(
        case: tuple[list[tuple[int, int]], list[int]]) -> None:
    check(*case)


@settings(max_examples=60, deadline=None)
@given(cases(scale=WIDE // 16))
def test_occupancy_equals_reference_beyond_the_32_bit_range(
        case: tuple[list[tuple[int, int]], list[int]]) -> None:
    check(*case)


def test_large_inputs_take_the_threaded_path_and_stay_exact() -> None:
    rng = np.random.default_rng(7)
    starts = BASE + rng.integers(0, 3_000, 120_000) * 1_000
    ends = starts + rng.integers(0, 400, 120_000) * 1_000
    edges = np.arange(BASE, BASE + 3_500_001, 250_000, dtype=np.int64)
    series = occupancy(starts, ends, edges)
    present = np.zeros(3_500, dtype=np.int64)  # per second: the data is on a 1 s grid
    np.add.at(present, (starts - BASE) // 1_000, 1)
    np.add.at(present, (ends - BASE) // 1_000, -1)
    level = np.cumsum(present)
    per_bucket = level.reshape(-1, 250)
    assert series.max.tolist() == per_bucket.max(axis=1).tolist()
    assert series.mean.tolist() == pytest.approx(per_bucket.mean(axis=1).tolist(), rel=1e-12)
