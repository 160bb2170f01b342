"""Bad rows on purpose: one defect per chosen row, with the reason code ingest should report."""

from __future__ import annotations

import numpy as np

from vigil.synth.slots import Int64s

TIMESTAMP_INVALID = "timestamp_invalid"
CONFIDENCE_OUT_OF_RANGE = "confidence_out_of_range"
SOURCE_ID_MISSING = "source_id_missing"
REASONS: tuple[str, ...] = (TIMESTAMP_INVALID, CONFIDENCE_OUT_OF_RANGE, SOURCE_ID_MISSING)
BAD_TIMESTAMP = "not-a-time"
BAD_CONFIDENCE = 1.7


def choose_defects(
    n: int,
    is_detection: np.ndarray,
    fraction: float,
    rng: np.random.Generator,
    protected: np.ndarray | None = None,
) -> dict[str, Int64s]:
    """Row indexes per reason: ``fraction`` of ``n`` rows, split about equally.

    The confidence defect only goes to detection rows; if there are too few, the other two
    defects take the remainder. ``protected`` rows (e.g. injected anomalies) are left alone.
    """
    allowed = np.ones(n, dtype=bool) if protected is None else ~protected
    total = min(int(allowed.sum()), int(round(n * fraction)))
    detections = np.flatnonzero(is_detection & allowed)
    n_conf = min((total + 1) // 3, detections.size)
    conf = np.sort(rng.choice(detections, size=n_conf, replace=False)).astype(np.int64)
    rest = np.setdiff1d(np.flatnonzero(allowed).astype(np.int64), conf, assume_unique=True)
    others = rng.choice(rest, size=total - n_conf, replace=False).astype(np.int64)
    half = (others.size + 1) // 2
    return {
        TIMESTAMP_INVALID: np.sort(others[:half]),
        CONFIDENCE_OUT_OF_RANGE: conf,
        SOURCE_ID_MISSING: np.sort(others[half:]),
    }
