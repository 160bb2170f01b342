"""Visit rows: an ``entry`` then an ``exit`` of the same person at the same camera.

A visit's entry time follows the camera's rhythm; its dwell is lognormal. Some visits are
incomplete (entry only, or exit only). One person's visits at a camera never overlap, so
pairing entry and exit rows per person in time order gives back exactly these visits.
"""

from __future__ import annotations

import numpy as np

from vigil.synth.config import CameraSpec
from vigil.synth.plan import Plan, place
from vigil.synth.profiles import (
    DWELL_MAX_S,
    DWELL_MEDIAN_S,
    DWELL_MIN_S,
    DWELL_SIGMA,
    ENTRY_ONLY_SHARE,
    LABELS,
)
from vigil.synth.rows import ENTRY, EXIT, Rows, concat_rows, nulls
from vigil.synth.slots import Int64s
from vigil.synth.visitors import draw_demographics, draw_persons, pool_size

COMPLETE, ENTRY_ONLY, EXIT_ONLY = 0, 1, 2


def draw_dwell_ms(n: int, rng: np.random.Generator) -> Int64s:
    """Lognormal dwell times (median ~10 min, capped at 3 h) in milliseconds."""
    seconds = rng.lognormal(np.log(DWELL_MEDIAN_S), DWELL_SIGMA, size=n)
    return np.round(np.clip(seconds, DWELL_MIN_S, DWELL_MAX_S) * 1000).astype(np.int64)


def draw_kinds(n: int, incomplete: int, rng: np.random.Generator) -> Int64s:
    """Visit kind codes: ``incomplete`` visits lack their exit (most) or their entry."""
    kinds = np.full(n, COMPLETE, dtype=np.int64)
    chosen = rng.permutation(n)[:incomplete]
    entry_only = int(round(incomplete * ENTRY_ONLY_SHARE))
    kinds[chosen[:entry_only]] = ENTRY_ONLY
    kinds[chosen[entry_only:]] = EXIT_ONLY
    return kinds


def conflicts(group: Int64s, first: Int64s, last: Int64s, kind: Int64s) -> Int64s:
    """Indexes of visits that would be confused with an earlier visit of the same group.

    That is a visit starting before an earlier one has ended, or an exit-only visit right
    after an entry-only one (their rows would pair up into one visit).
    """
    order = np.lexsort((first, group))
    g, start, end, k = group[order], first[order], last[order], kind[order]
    base = int(min(first.min(), last.min()))
    span = int(max(first.max(), last.max())) - base + 1
    running = np.maximum.accumulate((end - base) + g * span)
    previous = np.concatenate(([-1], running[:-1])) - g * span
    bad = (start - base) <= previous
    bad[1:] |= (g[1:] == g[:-1]) & (k[:-1] == ENTRY_ONLY) & (k[1:] == EXIT_ONLY)
    found: Int64s = order[bad]
    return found


def assign_persons(
    cameras: tuple[CameraSpec, ...],
    visits: tuple[Int64s, Int64s, Int64s, Int64s],
    days: int,
    rng: np.random.Generator,
) -> tuple[Int64s, list[int]]:
    """Pool-local person per visit (``visits``: camera, first, last, kind), persons per camera.

    Visits that would be confused with another visit of the same person go to new one-time
    persons, until no such clash is left.
    """
    camera, first, last, kind = visits
    local = np.zeros(camera.size, dtype=np.int64)
    sizes: list[int] = []
    for c, spec in enumerate(cameras):
        mask = camera == c
        count = int(mask.sum())
        local[mask] = draw_persons(count, spec.pool_ratio, days, rng)
        sizes.append(pool_size(count, spec.pool_ratio, days))
    width = max(sizes, default=0) + 1
    pooled = np.flatnonzero(np.ones(camera.size, dtype=bool))
    while pooled.size:
        group = camera[pooled] * width + local[pooled]
        clash = pooled[conflicts(group, first[pooled], last[pooled], kind[pooled])]
        if not clash.size:
            break
        clash = np.sort(clash)
        for c in range(len(cameras)):
            mine = clash[camera[clash] == c]
            local[mine] = sizes[c] + np.arange(mine.size, dtype=np.int64)
            sizes[c] += int(mine.size)
        pooled = np.setdiff1d(pooled, clash, assume_unique=True)
    return local, sizes


def person_ids(cameras: tuple[CameraSpec, ...], sizes: list[int]) -> list[str]:
    """Person id strings, camera by camera (``p-<camera>-<n>``)."""
    return [
        f"p-{spec.camera_id}-{k:05d}"
        for spec, n in zip(cameras, sizes, strict=True)
        for k in range(n)
    ]


def _side(
    ts: Int64s, camera: Int64s, person: Int64s, ages: Int64s, genders: Int64s, kind: int
) -> Rows:
    n = ts.size
    return Rows(
        ts_ms=ts,
        camera=camera,
        event_type=np.full(n, kind, dtype=np.int64),
        label=np.full(n, LABELS.index("person"), dtype=np.int64),
        confidence=np.full(n, np.nan),
        person=person,
        frame=nulls(n),
        age=ages[person],
        gender=genders[person],
    )


def visit_rows(
    cameras: tuple[CameraSpec, ...],
    plan: Plan,
    days: int,
    visits: int,
    incomplete: int,
    rng: np.random.Generator,
) -> tuple[Rows, list[str]]:
    """Entry and exit rows of ``visits`` visits, and the person id of each person code."""
    slot, entry = place(plan, plan.visits, visits, rng)
    camera = plan.slot_camera[slot]
    exit_ = np.minimum(entry + draw_dwell_ms(visits, rng), plan.period_end - 1)
    kind = draw_kinds(visits, incomplete, rng)
    first = np.where(kind == EXIT_ONLY, exit_, entry)
    last = np.where(kind == ENTRY_ONLY, entry, exit_)
    local, sizes = assign_persons(cameras, (camera, first, last, kind), days, rng)
    offsets = np.concatenate(([0], np.cumsum(sizes)[:-1])).astype(np.int64)
    person = offsets[camera] + local
    ages, genders = draw_demographics(int(sum(sizes)), rng)
    has_entry, has_exit = kind != EXIT_ONLY, kind != ENTRY_ONLY
    rows = concat_rows(
        [
            _side(entry[has_entry], camera[has_entry], person[has_entry], ages, genders, ENTRY),
            _side(exit_[has_exit], camera[has_exit], person[has_exit], ages, genders, EXIT),
        ]
    )
    return rows, person_ids(cameras, sizes)
