"""Occupancy: how many people are present over time, from session intervals (pure numpy).

A person is present during ``[entry, exit)`` of a complete session and from the entry of an
``open`` session until the data's end. ``timed_out`` sessions (exit unknown) and orphan exits
(entry unknown) are left out and counted by the caller. Times are whole milliseconds.

Per bucket ``[b0, b1)`` two figures:

- ``max``: the largest number present at any instant of the bucket;
- ``mean``: the time-weighted mean, ``(∫ present dt over the bucket) / (b1 - b0)``.

With ``S`` and ``E`` the sorted starts and ends, the number present at ``t`` is
``#{S <= t} - #{E <= t}`` and the integral up to ``t`` is
``Σ_{S<t}(t - S) - Σ_{E<t}(t - E)``: two sorts and prefix sums, no sweep loop. A maximum is
reached at a bucket's start or at some start inside it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["OccupancySeries", "occupancy"]

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
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
    starts, ends = _sorted_pair(starts, ends)
    return OccupancySeries(edges, _bucket_max(starts, ends, edges), _bucket_mean(starts, ends,
                                                                                 edges))


def _sorted_pair(starts: Ints, ends: Ints) -> tuple[Ints, Ints]:
    """Both arrays sorted; large ones side by side in two threads (numpy sorts without
    holding the interpreter lock)."""
    if len(starts) < PARALLEL_MIN:
        return _sorted(starts), _sorted(ends)
    with ThreadPoolExecutor(max_workers=1) as pool:
        sorted_ends = pool.submit(_sorted, ends)
        return _sorted(starts), sorted_ends.result()


def _sorted(times: Ints) -> Ints:
    """``times`` sorted; as 32-bit offsets from their minimum when they fit (the usual
    case: a range under 49 days in ms), which sorts about twice as fast."""
    if len(times) == 0:
        return times
    low = int(times.min())
    if int(times.max()) - low >= 2**32:
        return np.sort(times)
    offsets = (times - low).astype(np.uint32)
    offsets.sort()
    result: Ints = offsets.astype(np.int64) + low
    return result


def _present_at(starts: Ints, ends: Ints, moments: Ints) -> Ints:
    """How many intervals contain each moment."""
    inside: Ints = (np.searchsorted(starts, moments, side="right")
                    - np.searchsorted(ends, moments, side="right")).astype(np.int64)
    return inside


def _bucket_max(starts: Ints, ends: Ints, edges: Ints) -> Ints:
    """The largest presence per bucket: at its first instant or just after a start in it."""
    best = _present_at(starts, ends, edges[:-1])
    if len(starts) == 0:
        return best
    # Presence just after the i-th sorted start is (i + 1) - #{E <= start}, exact at the
    # last of equal starts and lower before it; equal starts fall in one bucket, so each
    # bucket's maximum over its starts is exact.
    at_starts = np.arange(1, len(starts) + 1, dtype=np.int64) - _ended_by(ends, starts)
    first = np.searchsorted(starts, edges[:-1], side="left")
    last = np.searchsorted(starts, edges[1:], side="left")
    has = last > first
    if has.any():
        peaks = _segment_max(at_starts, first[has], last[has])
        best[has] = np.maximum(best[has], peaks)
    return best


def _ended_by(ends: Ints, starts: Ints) -> Ints:
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


def _bucket_mean(starts: Ints, ends: Ints, edges: Ints) -> Floats:
    """Time-weighted mean presence per bucket."""
    area = _area_until(starts, edges) - _area_until(ends, edges)
    mean: Floats = np.diff(area).astype(np.float64) / np.diff(edges).astype(np.float64)
    return mean


def _area_until(sorted_times: Ints, moments: Ints) -> Ints:
    """``Σ_{t < m} (m - t)`` for each moment ``m`` (relative to the first edge, exact ints)."""
    origin = moments[0]
    relative = sorted_times - origin
    prefix = np.concatenate([[0], np.cumsum(relative)])
    before = np.searchsorted(sorted_times, moments, side="left")
    area: Ints = before * (moments - origin) - prefix[before]
    return area
