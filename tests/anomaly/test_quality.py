"""Detection quality on ``vigil generate`` data (the issue's targets).

Per seed: 28 days of the four default cameras with three injected anomalies of each type
after the 14-day warm-up, and the same data without them. Alarms count from severity
"medium" (the alerting default); see :mod:`vigil.anomaly.evaluate` for the matching rules.
Targets: F1 >= 0.9 per type over the seeds (pooled: with three anomalies of a type per
seed, one seed's single miss would already be F1 0.8), and on clean data at most one false
alarm per camera per week on every seed.
"""

from __future__ import annotations

import pytest

from vigil.anomaly.evaluate import GeneratedRun, TypeScore, evaluate_generated
from vigil.synth import ANOMALY_TYPES, SynthConfig

SEEDS = (1, 2, 3)


@pytest.fixture(scope="module")
def runs() -> list[GeneratedRun]:
    return [evaluate_generated(SynthConfig(seed=seed, days=28, anomalies=ANOMALY_TYPES,
                                           anomaly_count=3)) for seed in SEEDS]


def test_every_type_is_found_precisely(runs: list[GeneratedRun]) -> None:
    for kind in ANOMALY_TYPES:
        scores = [run.anomalous.per_type[kind] for run in runs]
        pooled = TypeScore(*(sum(getattr(s, f) for s in scores)
                             for f in ("alarms", "matched_alarms", "truths", "found")))
        assert pooled.truths == 3 * len(SEEDS)
        details = [(r.anomalous.missed, r.anomalous.unmatched) for r in runs]
        assert pooled.f1 >= 0.9, (kind, pooled, details)
        assert min(s.f1 for s in scores) >= 0.75, (kind, scores)


def test_clean_data_raises_at_most_one_alarm_per_camera_week(runs: list[GeneratedRun]) -> None:
    for run in runs:
        assert run.clean.camera_weeks == 8.0  # four cameras, the two weeks after the warm-up
        assert run.clean.false_alarms_per_camera_week <= 1.0, run.clean.unmatched
