"""Injected anomalies with ground truth: rare time, novel object, spike and silence.

Anomalies are planned on the plan's slot grid once the clean rows exist, so the clean rows
stay exactly those of the same config without anomalies. Every anomaly lies in full local
hour slots that start after the warm-up days, and each takes a (camera, local day) of its
own, so no anomaly hides or inflates another:

- ``rare_time``: a handful of detections of a usual label (``person`` when the camera sees
  people) in the local hour of the camera that was quietest during the warm-up;
- ``novel_object``: a few detections with a label of :data:`NOVEL_LABELS`, which the clean
  data never has;
- ``spike``: one busy local hour where the camera's top label reaches 6-8 times its mean
  count at the same hour and weekday in the other weeks;
- ``silence``: 4-6 consecutive busy hours in which the camera emits nothing at all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from vigil.synth.config import NOVEL_OBJECT, RARE_TIME, SILENCE, SPIKE, SynthConfig
from vigil.synth.detections import CONFIDENCE_HIGH, CONFIDENCE_LOW, draw_confidence, label_cdf
from vigil.synth.localtime import local_day_hour
from vigil.synth.plan import Plan
from vigil.synth.profiles import LABELS, NOVEL_LABELS
from vigil.synth.rows import DETECTION, Rows, concat_rows, nulls
from vigil.synth.slots import HOUR_MS, Floats, Int64s
from vigil.synth.timefmt import DAY_MS, iso_utc_ms

RARE_EVENTS = (3, 6)
NOVEL_EVENTS = (1, 3)
SPIKE_FACTOR = (6.0, 8.0)
SILENCE_HOURS = (4, 6)
"""Inclusive ranges drawn per anomaly."""
BUSY_SHARE = 0.5
"""A busy slot (or window) expects at least this share of the camera's busiest one."""
NOVEL_CONFIDENCE_BETA = (4.0, 3.0)
METADATA_KEY = b"vigil.synth.anomalies"
"""Schema metadata key under which a generated table carries its anomaly records (JSON)."""
Bools = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Anomaly:
    """One injected anomaly: camera index, label (``None``: all), UTC window ``[start, end)``."""

    kind: str
    camera: int
    label: str | None
    start_ms: int
    end_ms: int
    facts: dict[str, float | int] = field(default_factory=dict)


@dataclass(frozen=True)
class Grid:
    """What the planner reads: slots with local day and expected detections, clean rows."""

    config: SynthConfig
    plan: Plan
    slot_day: Int64s
    usable: Bools
    expected: Floats
    rows: Rows
    warmup_end: int
    warmup_hours: Int64s
    """Clean rows in the warm-up per camera and local hour (index ``camera * 24 + hour``)."""


@dataclass
class Taken:
    """(camera, local day) pairs and (camera, novel label) pairs already used."""

    days: set[tuple[int, int]] = field(default_factory=set)
    novel: set[tuple[int, str]] = field(default_factory=set)

    def free(self, grid: Grid) -> Bools:
        """Usable slots whose camera and local day carry no anomaly yet."""
        keys = grid.plan.slot_camera * (1 << 32) + grid.slot_day
        taken = np.array([c * (1 << 32) + d for c, d in self.days], dtype=np.int64)
        mask: Bools = grid.usable & ~np.isin(keys, taken)
        return mask

    def take(self, grid: Grid, slot: int) -> None:
        self.days.add((int(grid.plan.slot_camera[slot]), int(grid.slot_day[slot])))


@dataclass(frozen=True)
class Injection:
    """All rows after injection (sorted), the anomaly index of each row (-1: clean row)."""

    rows: Rows
    owner: Int64s
    anomalies: list[Anomaly]


Planned = tuple[Anomaly, Rows]
Planner = Callable[[Grid, Taken, int, np.random.Generator], Planned]


def build_grid(config: SynthConfig, plan: Plan, rows: Rows) -> Grid:
    """The grid: local days of slots, expected detections scaled to the drawn count."""
    slot_day = np.zeros(plan.slot_start.size, dtype=np.int64)
    for c, spec in enumerate(config.cameras):
        mine = plan.slot_camera == c
        slot_day[mine] = local_day_hour(plan.slot_start[mine], spec.timezone)[0]
    warmup_end = plan.period_start + config.anomaly_warmup_days * DAY_MS
    early = rows.ts_ms < warmup_end
    history = np.zeros(len(config.cameras) * 24, dtype=np.int64)
    for c, spec in enumerate(config.cameras):
        hours = local_day_hour(rows.ts_ms[early & (rows.camera == c)], spec.timezone)[1]
        history[c * 24 : (c + 1) * 24] = np.bincount(hours, minlength=24)
    total = float(plan.detections.sum())
    drawn = int((rows.event_type == DETECTION).sum())
    scale = drawn / total if total > 0 else 0.0
    return Grid(
        config=config,
        plan=plan,
        slot_day=slot_day,
        usable=(plan.slot_length == HOUR_MS) & (plan.slot_start >= warmup_end),
        expected=plan.detections * scale,
        rows=rows,
        warmup_end=warmup_end,
        warmup_hours=history,
    )


def _pick(candidates: Int64s, rng: np.random.Generator) -> int:
    return int(candidates[rng.integers(candidates.size)])


def pick_busy(
    index: Int64s, score: Floats, camera: Int64s, rng: np.random.Generator
) -> int | None:
    """A random camera, then one of its candidates scoring >= BUSY_SHARE of its best."""
    live = score > 0
    index, score, camera = index[live], score[live], camera[live]
    if not index.size:
        return None
    chosen = _pick(np.unique(camera), rng)
    mine = camera == chosen
    best = float(score[mine].max())
    return _pick(index[mine & (score >= BUSY_SHARE * best)], rng)


def _no_room(kind: str, k: int) -> ValueError:
    return ValueError(f"no room for {kind} anomaly {k + 1}: use more days or fewer anomalies")


def usual_label(grid: Grid, camera: int, prefer_person: bool) -> int:
    """The label code: ``person`` when preferred and in the mix, else the top weight."""
    mix = dict(grid.config.cameras[camera].label_mix)
    if prefer_person and mix.get("person", 0.0) > 0:
        return LABELS.index("person")
    return LABELS.index(max(mix, key=mix.__getitem__))


def label_probability(grid: Grid) -> Floats:
    """P(label | camera, local hour), shape (camera, hour, label)."""
    cdf = label_cdf(grid.config.cameras)
    prob: Floats = np.diff(cdf, axis=2, prepend=0.0)
    return prob


def detections_in(
    grid: Grid, camera: int, label: int, slot: int, n: int, rng: np.random.Generator
) -> Rows:
    """``n`` detections of ``label`` at ``camera``, uniform within ``slot``, in time order."""
    plan = grid.plan
    ts = np.sort(plan.slot_start[slot] + np.floor(rng.random(n) * HOUR_MS).astype(np.int64))
    labels = np.full(n, label, dtype=np.int64)
    if label < len(LABELS):
        confidence = draw_confidence(labels, rng)
    else:
        beta = rng.beta(*NOVEL_CONFIDENCE_BETA, size=n)
        confidence = np.round(CONFIDENCE_LOW + (CONFIDENCE_HIGH - CONFIDENCE_LOW) * beta, 3)
    fps = grid.config.cameras[camera].fps
    return Rows(
        ts_ms=ts,
        camera=np.full(n, camera, dtype=np.int64),
        event_type=np.full(n, DETECTION, dtype=np.int64),
        label=labels,
        confidence=confidence,
        person=nulls(n),
        frame=(ts - plan.period_start) * fps // 1000,
        age=nulls(n),
        gender=nulls(n),
    )


def _slot_anomaly(
    grid: Grid, kind: str, slot: int, label: str, facts: dict[str, float | int]
) -> Anomaly:
    start = int(grid.plan.slot_start[slot])
    camera = int(grid.plan.slot_camera[slot])
    return Anomaly(kind, camera, label, start, start + HOUR_MS, facts)


def plan_rare_time(grid: Grid, taken: Taken, k: int, rng: np.random.Generator) -> Planned:
    """A few detections in the (camera, local hour) with the fewest warm-up events."""
    free = np.flatnonzero(taken.free(grid))
    if not free.size:
        raise _no_room(RARE_TIME, k)
    cams = grid.plan.slot_camera
    seen = grid.warmup_hours[cams[free] * 24 + grid.plan.slot_hour[free]]
    slot = _pick(free[seen == seen.min()], rng)
    camera = int(cams[slot])
    label = usual_label(grid, camera, prefer_person=True)
    n = int(rng.integers(RARE_EVENTS[0], RARE_EVENTS[1] + 1))
    taken.take(grid, slot)
    facts: dict[str, float | int] = {"warmup_events": int(seen.min())}
    anomaly = _slot_anomaly(grid, RARE_TIME, slot, LABELS[label], facts)
    return anomaly, detections_in(grid, camera, label, slot, n, rng)


def plan_novel_object(grid: Grid, taken: Taken, k: int, rng: np.random.Generator) -> Planned:
    """A few detections with a novel label, at a camera that never had that label."""
    label = NOVEL_LABELS[k % len(NOVEL_LABELS)]
    cams = grid.plan.slot_camera
    fresh = np.array(
        [(c, label) not in taken.novel for c in range(len(grid.config.cameras))], dtype=bool
    )
    candidates = np.flatnonzero(taken.free(grid) & fresh[cams] & (grid.expected > 0))
    if not candidates.size:
        raise _no_room(NOVEL_OBJECT, k)
    slot = _pick(candidates, rng)
    camera = int(cams[slot])
    n = int(rng.integers(NOVEL_EVENTS[0], NOVEL_EVENTS[1] + 1))
    taken.take(grid, slot)
    taken.novel.add((camera, label))
    anomaly = _slot_anomaly(grid, NOVEL_OBJECT, slot, label, {})
    code = len(LABELS) + NOVEL_LABELS.index(label)
    return anomaly, detections_in(grid, camera, code, slot, n, rng)


def count_in_slots(grid: Grid, camera: int, label: int, slots: Int64s) -> Int64s:
    """Clean rows of ``camera`` and ``label`` (any event type) in each slot."""
    rows = grid.rows
    ts = rows.ts_ms[(rows.camera == camera) & (rows.label == label)]
    starts = grid.plan.slot_start[slots]
    counts: Int64s = np.searchsorted(ts, starts + grid.plan.slot_length[slots]) - np.searchsorted(
        ts, starts
    )
    return counts


def same_hour_other_weeks(grid: Grid, slot: int) -> Int64s:
    """Full slots of the same camera and local hour, a whole number of weeks away."""
    plan = grid.plan
    days_apart = grid.slot_day - grid.slot_day[slot]
    same = (
        (plan.slot_camera == plan.slot_camera[slot])
        & (plan.slot_hour == plan.slot_hour[slot])
        & (plan.slot_length == HOUR_MS)
        & (days_apart % 7 == 0)
        & (days_apart != 0)
    )
    found: Int64s = np.flatnonzero(same)
    return found


def plan_spike(grid: Grid, taken: Taken, k: int, rng: np.random.Generator) -> Planned:
    """A busy hour whose top-label count becomes 6-8 times its usual level."""
    free = np.flatnonzero(taken.free(grid))
    cams = grid.plan.slot_camera[free]
    top = np.array([usual_label(grid, c, False) for c in range(len(grid.config.cameras))])
    prob = label_probability(grid)
    score = grid.expected[free] * prob[cams, grid.plan.slot_hour[free], top[cams]]
    slot = pick_busy(free, score, cams, rng)
    if slot is None:
        raise _no_room(SPIKE, k)
    camera = int(grid.plan.slot_camera[slot])
    label = int(top[camera])
    others = count_in_slots(grid, camera, label, same_hour_other_weeks(grid, slot))
    usual = float(others.mean()) if others.size else 0.0
    expected = float(grid.expected[slot] * prob[camera, grid.plan.slot_hour[slot], label])
    factor = float(rng.uniform(*SPIKE_FACTOR))
    target = math.ceil(factor * max(usual, expected, 1.0))
    current = int(count_in_slots(grid, camera, label, np.array([slot]))[0])
    extra = max(target - current, 0)
    taken.take(grid, slot)
    facts: dict[str, float | int] = {
        "factor": round(factor, 2),
        "usual_count": round(usual, 2),
        "count": current + extra,
    }
    anomaly = _slot_anomaly(grid, SPIKE, slot, LABELS[label], facts)
    return anomaly, detections_in(grid, camera, label, slot, extra, rng)


def silence_windows(grid: Grid, free: Bools, hours: int) -> tuple[Int64s, Floats]:
    """First slots of ``hours`` free slots in a row (same camera, same local day), scores."""
    plan = grid.plan
    first = np.arange(max(free.size - hours + 1, 0), dtype=np.int64)
    ok = np.ones(first.size, dtype=bool)
    score = np.zeros(first.size)
    for step in range(hours):
        at = first + step
        ok &= free[at] & (plan.slot_camera[at] == plan.slot_camera[first])
        ok &= grid.slot_day[at] == grid.slot_day[first]
        score += grid.expected[at]
    return first[ok], score[ok]


def plan_silence(grid: Grid, taken: Taken, k: int, rng: np.random.Generator) -> Planned:
    """4-6 busy hours in a row in which the camera emits nothing (rows removed later)."""
    hours = int(rng.integers(SILENCE_HOURS[0], SILENCE_HOURS[1] + 1))
    first, score = silence_windows(grid, taken.free(grid), hours)
    slot = pick_busy(first, score, grid.plan.slot_camera[first], rng)
    if slot is None:
        raise _no_room(SILENCE, k)
    taken.take(grid, slot)
    start = int(grid.plan.slot_start[slot])
    camera = int(grid.plan.slot_camera[slot])
    anomaly = Anomaly(SILENCE, camera, None, start, start + hours * HOUR_MS, {"hours": hours})
    return anomaly, detections_in(grid, camera, LABELS.index("person"), slot, 0, rng)


PLANNERS: dict[str, Planner] = {
    RARE_TIME: plan_rare_time,
    NOVEL_OBJECT: plan_novel_object,
    SPIKE: plan_spike,
    SILENCE: plan_silence,
}


def silenced(rows: Rows, anomalies: list[Anomaly]) -> Bools:
    """Clean rows inside a silence window of their camera."""
    mask = np.zeros(len(rows), dtype=bool)
    for anomaly in anomalies:
        if anomaly.kind == SILENCE:
            inside = (rows.ts_ms >= anomaly.start_ms) & (rows.ts_ms < anomaly.end_ms)
            mask |= inside & (rows.camera == anomaly.camera)
    return mask


def inject_anomalies(
    config: SynthConfig, plan: Plan, rows: Rows, rng: np.random.Generator
) -> Injection:
    """Plan ``config.anomalies`` on the sorted clean ``rows``; add and remove their rows."""
    grid = build_grid(config, plan, rows)
    taken = Taken()
    planned = [
        PLANNERS[kind](grid, taken, k, rng)
        for kind in config.anomalies
        for k in range(config.anomaly_count)
    ]
    anomalies = [anomaly for anomaly, _ in planned]
    keep = np.flatnonzero(~silenced(rows, anomalies))
    merged = concat_rows([rows.take(keep)] + [added for _, added in planned])
    owner = np.concatenate(
        [np.full(keep.size, -1, dtype=np.int64)]
        + [np.full(len(added), i, dtype=np.int64) for i, (_, added) in enumerate(planned)]
    )
    order = np.lexsort((merged.event_type, merged.ts_ms)).astype(np.int64)
    return Injection(merged.take(order), owner[order], anomalies)


def local_iso(utc_ms: int, timezone: str) -> str:
    """The instant as local ISO 8601 time with its offset."""
    return datetime.fromtimestamp(utc_ms / 1000, tz=ZoneInfo(timezone)).isoformat()


def anomaly_records(
    config: SynthConfig, injection: Injection, event_ids: pa.Array
) -> list[dict[str, Any]]:
    """JSON-ready ground truth of each anomaly, ordered by start, type and source."""
    records = []
    for index, anomaly in enumerate(injection.anomalies):
        spec = config.cameras[anomaly.camera]
        bounds = iso_utc_ms(np.array([anomaly.start_ms, anomaly.end_ms], dtype=np.int64))
        record: dict[str, Any] = {
            "type": anomaly.kind,
            "source_id": spec.camera_id,
            "label": anomaly.label,
            "start": bounds[0].as_py(),
            "end": bounds[1].as_py(),
            "local_start": local_iso(anomaly.start_ms, spec.timezone),
            **anomaly.facts,
        }
        if anomaly.kind in (RARE_TIME, NOVEL_OBJECT):
            record["event_ids"] = event_ids.filter(pa.array(injection.owner == index)).to_pylist()
        records.append(record)
    return sorted(records, key=lambda r: (r["start"], r["type"], r["source_id"]))


def attach_records(table: pa.Table, records: list[dict[str, Any]]) -> pa.Table:
    """The table with its anomaly records in the schema metadata."""
    return table.replace_schema_metadata({METADATA_KEY: json.dumps(records)})


def table_anomalies(table: pa.Table) -> list[dict[str, Any]]:
    """The anomaly records a generated table carries."""
    metadata = table.schema.metadata or {}
    if METADATA_KEY not in metadata:
        raise ValueError("the table carries no anomaly records: use generate_events' table")
    records: list[dict[str, Any]] = json.loads(metadata[METADATA_KEY])
    return records
