"""The slot grid of all cameras and how many detections and visits to place on it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vigil.synth.config import SynthConfig
from vigil.synth.profiles import DAY_NOISE_SIGMA
from vigil.synth.slots import Floats, Int64s, camera_slots, period_ms, slot_weights


@dataclass(frozen=True)
class Plan:
    """Slots of all cameras (concatenated) with expected detections and visits per slot.

    ``period_start``/``period_end``: the UTC ms interval (end exclusive) of all events.
    """

    slot_start: Int64s
    slot_length: Int64s
    slot_hour: Int64s
    slot_camera: Int64s
    detections: Floats
    visits: Floats
    period_start: int
    period_end: int


def build_plan(config: SynthConfig, rng: np.random.Generator) -> Plan:
    """Slots and unscaled expected counts; day-to-day noise comes from ``rng``."""
    starts, lengths, hours, cams, det, vis = [], [], [], [], [], []
    for index, spec in enumerate(config.cameras):
        slots = camera_slots(spec, config.start, config.days)
        noise = rng.lognormal(0.0, DAY_NOISE_SIGMA, size=config.days + 2)
        weights = slot_weights(spec, slots, noise)
        starts.append(slots.start_ms)
        lengths.append(slots.length_ms)
        hours.append(slots.local_hour)
        cams.append(np.full(slots.start_ms.size, index, dtype=np.int64))
        det.append(weights * spec.detections_per_day)
        vis.append(weights * spec.visits_per_day)
    first, end = period_ms(config.start, config.days)
    return Plan(
        slot_start=np.concatenate(starts),
        slot_length=np.concatenate(lengths),
        slot_hour=np.concatenate(hours),
        slot_camera=np.concatenate(cams),
        detections=np.concatenate(det),
        visits=np.concatenate(vis),
        period_start=first,
        period_end=end,
    )


def visit_rows_per_visit(incomplete_fraction: float) -> float:
    """Expected rows per visit: two, minus one for each incomplete visit."""
    return 2.0 - incomplete_fraction


def exact_totals(rows: int, plan: Plan, incomplete_fraction: float) -> tuple[int, int, int]:
    """(detections, visits, incomplete visits) adding up to exactly ``rows`` rows."""
    per_visit = visit_rows_per_visit(incomplete_fraction)
    expected_det = float(plan.detections.sum())
    expected_vis_rows = float(plan.visits.sum()) * per_visit
    expected = expected_det + expected_vis_rows
    share = expected_vis_rows / expected if expected > 0 else 0.0
    visits = int(round(rows * share / per_visit))
    while visits > 0:
        incomplete = int(round(visits * incomplete_fraction))
        if 2 * visits - incomplete <= rows:
            break
        visits -= 1
    incomplete = int(round(visits * incomplete_fraction))
    return rows - (2 * visits - incomplete), visits, incomplete


def random_totals(
    plan: Plan, incomplete_fraction: float, rng: np.random.Generator
) -> tuple[int, int, int]:
    """(detections, visits, incomplete visits) drawn around the configured rates."""
    detections = int(rng.poisson(float(plan.detections.sum())))
    visits = int(rng.poisson(float(plan.visits.sum())))
    return detections, visits, int(rng.binomial(visits, incomplete_fraction))


def place(plan: Plan, weights: Floats, n: int, rng: np.random.Generator) -> tuple[Int64s, Int64s]:
    """Spread ``n`` events over the slots in proportion to ``weights``.

    Returns each event's slot index and UTC ms (uniform within its slot, grouped by slot).
    """
    total = float(weights.sum())
    p = weights / total if total > 0 else np.full(weights.size, 1.0 / weights.size)
    counts = rng.multinomial(n, p)
    slot = np.repeat(np.arange(weights.size, dtype=np.int64), counts)
    within = np.floor(rng.random(n) * plan.slot_length[slot]).astype(np.int64)
    return slot, plan.slot_start[slot] + within
