"""Detection rows: label by camera mix and local hour, confidence, frame number."""

from __future__ import annotations

import numpy as np

from vigil.synth.config import CameraSpec
from vigil.synth.plan import Plan, place
from vigil.synth.profiles import CONFIDENCE_BETA, LABEL_HOUR_FACTORS, LABELS
from vigil.synth.rows import DETECTION, Rows, nulls
from vigil.synth.slots import Floats, Int64s

CONFIDENCE_LOW, CONFIDENCE_HIGH = 0.30, 0.99


def label_cdf(cameras: tuple[CameraSpec, ...]) -> Floats:
    """Cumulative label probabilities, shape (camera, local hour, label)."""
    mix = np.zeros((len(cameras), len(LABELS)))
    for c, spec in enumerate(cameras):
        for label, weight in spec.label_mix:
            mix[c, LABELS.index(label)] += weight
    factor = np.ones((24, len(LABELS)))
    for label, by_hour in LABEL_HOUR_FACTORS.items():
        for hour, value in by_hour.items():
            factor[hour, LABELS.index(label)] = value
    prob = mix[:, None, :] * factor[None, :, :]
    total = prob.sum(axis=2, keepdims=True)
    prob = np.divide(prob, total, out=np.full_like(prob, 1.0 / len(LABELS)), where=total > 0)
    cdf: Floats = np.cumsum(prob, axis=2)
    return cdf


def draw_labels(cdf: Floats, camera: Int64s, hour: Int64s, rng: np.random.Generator) -> Int64s:
    """One label code per event by inverse-CDF sampling."""
    u = rng.random(camera.size)
    codes: Int64s = (u[:, None] >= cdf[camera, hour, :]).sum(axis=1).astype(np.int64)
    return np.minimum(codes, len(LABELS) - 1)


def draw_confidence(labels: Int64s, rng: np.random.Generator) -> Floats:
    """Confidence in 0.30..0.99 with 3 decimals; its shape depends on the label."""
    out = np.empty(labels.size)
    for code, label in enumerate(LABELS):
        mask = labels == code
        a, b = CONFIDENCE_BETA[label]
        out[mask] = rng.beta(a, b, size=int(mask.sum()))
    span = CONFIDENCE_HIGH - CONFIDENCE_LOW
    confidence: Floats = np.round(CONFIDENCE_LOW + span * out, 3)
    return confidence


def detection_rows(
    cameras: tuple[CameraSpec, ...], plan: Plan, n: int, rng: np.random.Generator
) -> Rows:
    """``n`` detection rows spread over the plan's detection weights."""
    slot, ts = place(plan, plan.detections, n, rng)
    camera = plan.slot_camera[slot]
    labels = draw_labels(label_cdf(cameras), camera, plan.slot_hour[slot], rng)
    fps = np.array([spec.fps for spec in cameras], dtype=np.int64)
    frame = (ts - plan.period_start) * fps[camera] // 1000
    return Rows(
        ts_ms=ts,
        camera=camera,
        event_type=np.full(n, DETECTION, dtype=np.int64),
        label=labels,
        confidence=draw_confidence(labels, rng),
        person=nulls(n),
        frame=frame,
        age=nulls(n),
        gender=nulls(n),
    )
