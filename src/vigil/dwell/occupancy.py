"""Occupancy: how many people are present over time, from session intervals (pure numpy).

A person is present during ``[entry, exit)`` of a complete session and from the entry of an
``open`` session until the data's end. ``timed_out`` sessions (exit unknown) and orphan exits
(entry unknown) are left out and counted by the caller. Times are whole milliseconds.

Per bucket ``[b0, b1)`` two figures:

- ``max``: the largest number present at any instant of the bucket;
- ``mean``: the time-weighted mean, ``(∫ present dt over the bucket) / (b1 - b0)``.

With ``S`` and ``E`` the sorted starts and ends, the number present at ``t`` is
``#{S <= t} - #{E <= t}`` and the integral up to ``t`` is
``Σ_{S<t}(t - S) - Σ_{E<t}(t - E)``: two sorts and prefix sums, no sweep loop. A bucket's
maximum is reached at its start or just after some start inside it, where it is
``(i + 1) - #{E <= S_i}`` for the i-th sorted start. Times are sorted and searched as
32-bit offsets when the range allows (under 49 days in ms), which is about twice as fast.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["OccupancySeries", "occupancy"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Times = npt.NDArray[np.uint32] | npt.NDArray[np.int64]
"""Offsets from the earliest instant: 32-bit when the range fits."""
PARALLEL_MIN = 100_000
"""Intervals from which sorting and searching run in two threads."""


@dataclass(frozen=True)
class OccupancySeries:
    """Per bucket (edges ``edges[i]`` to ``edges[i + 1]``) the maximum and mean presence."""

    edges: Ints
    max: Ints
    mean: Floats


def occupancy(starts_ms: Ints, ends_ms: Ints, edges_ms: Ints) -> OccupancySeries:
    """Presence per bucket of the intervals ``[starts_ms[i], ends_ms[i])``; ``edges_ms`` are
    the increasing bucket edges (``len(edges) - 1`` buckets)."""
    edges = np.asarray(edges_ms, dtype=np.int64)
    if len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise ValueError("bucket edges must be at least two increasing instants")
    starts = np.asarray(starts_ms, dtype=np.int64)
    ends = np.asarray(ends_ms, dtype=np.int64)
    if starts.shape != ends.shape:
        raise ValueError("starts and ends differ in length")
    keep = ends > starts  # an empty interval is never present
    if not keep.all():
        starts, ends = starts[keep], ends[keep]
    if len(starts) == 0:
        buckets = len(edges) - 1
        return OccupancySeries(edges, np.zeros(buckets, np.int64), np.zeros(buckets))
    origin = min(int(starts.min()), int(edges[0]))
    span = max(int(ends.max()), int(edges[-1])) - origin
    narrow = span < 2**32
    moments = _offsets(edges, origin, narrow)
    sorted_starts, sorted_ends = _sorted_pair(_offsets(starts, origin, narrow),
                                              _offsets(ends, origin, narrow))
    return OccupancySeries(edges, _bucket_max(sorted_starts, sorted_ends, moments),
                           _bucket_mean(sorted_starts, sorted_ends, moments))


def _offsets(times: Ints, origin: int, narrow: bool) -> Times:
    """``times - origin`` (all >= 0), as 32-bit integers when ``narrow``."""
    shifted: Ints = times - origin
    if narrow:
        small: npt.NDArray[np.uint32] = shifted.astype(np.uint32)
        return small
    return shifted


def _sorted_pair(starts: Times, ends: Times) -> tuple[Times, Times]:
    """Both arrays sorted in place; large ones side by side in two threads (numpy sorts
    without holding the interpreter lock)."""
    if len(starts) < PARALLEL_MIN:
        starts.sort()
        ends.sort()
        return starts, ends
    with ThreadPoolExecutor(max_workers=1) as pool:
        sorting = pool.submit(ends.sort)
        starts.sort()
        sorting.result()
    return starts, ends


def _bucket_max(starts: Times, ends: Times, moments: Times) -> Ints:
    """The largest presence per bucket: at its first instant or just after a start in it."""
    best = _present_at(starts, ends, moments[:-1])
    # Presence just after the i-th sorted start is (i + 1) - #{E <= start}, exact at the
    # last of equal starts and lower before it; equal starts fall in one bucket, so each
    # bucket's maximum over its starts is exact.
    at_starts = np.arange(1, len(starts) + 1, dtype=np.int64) - _ended_by(ends, starts)
    first = np.searchsorted(starts, moments[:-1], side="left")
    last = np.searchsorted(starts, moments[1:], side="left")
    has = last > first
    if has.any():
        peaks = _segment_max(at_starts, first[has], last[has])
        best[has] = np.maximum(best[has], peaks)
    return best


def _present_at(starts: Times, ends: Times, moments: Times) -> Ints:
    """How many intervals contain each moment."""
    inside: Ints = (np.searchsorted(starts, moments, side="right")
                    - np.searchsorted(ends, moments, side="right")).astype(np.int64)
    return inside


def _ended_by(ends: Times, starts: Times) -> Ints:
    """For each start, how many (sorted) ends are at or before it; large inputs in two
    halves side by side (numpy searches without holding the interpreter lock)."""
    if len(starts) < PARALLEL_MIN:
        found: Ints = np.searchsorted(ends, starts, side="right")
        return found
    half = len(starts) // 2
    with ThreadPoolExecutor(max_workers=1) as pool:
        second = pool.submit(np.searchsorted, ends, starts[half:], side="right")
        first = np.searchsorted(ends, starts[:half], side="right")
        both: Ints = np.concatenate([first, second.result()])
        return both


def _segment_max(values: Ints, lo: Ints, hi: Ints) -> Ints:
    """``max(values[lo[i]:hi[i]])`` for non-empty, non-overlapping, increasing segments."""
    bounds = np.empty(2 * len(lo), dtype=np.int64)
    bounds[0::2], bounds[1::2] = lo, hi  # reduceat: values[bounds[k]:bounds[k + 1]]
    padded = np.append(values, 0)  # so that a segment may end at len(values)
    peaks: Ints = np.maximum.reduceat(padded, bounds)[0::2]
    return peaks


def _bucket_mean(starts: Times, ends: Times, moments: Times) -> Floats:
    """Time-weighted mean presence per bucket."""
    area = _area_until(starts, moments) - _area_until(ends, moments)
    widths = np.diff(moments.astype(np.int64)).astype(np.float64)
    mean: Floats = np.diff(area).astype(np.float64) / widths
    return mean


def _area_until(sorted_times: Times, moments: Times) -> Ints:
    """``Σ_{t < m} (m - t)`` for each moment ``m`` (exact integers)."""
    before = np.searchsorted(sorted_times, moments, side="left")
    prefix = np.cumsum(sorted_times, dtype=np.int64)
    summed = np.where(before > 0, prefix[np.maximum(before - 1, 0)], 0)
    area: Ints = before * moments.astype(np.int64) - summed
    return area
