"""The public names of ``vigil.anomaly`` resolve; the benchmark hook runs; results are frozen."""

from __future__ import annotations

import dataclasses

import pytest

import vigil.anomaly as anomaly


def test_every_public_name_resolves() -> None:
    assert anomaly.__all__
    assert [name for name in anomaly.__all__ if not hasattr(anomaly, name)] == []


def test_benchmark_scoring_reports_a_rate() -> None:
    assert anomaly.benchmark_scoring(2_000) > 0.0


def test_results_and_configs_are_frozen() -> None:
    result = anomaly.EventScorer().score("cam", "person", 0, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 1.0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        anomaly.VolumeConfig().min_weeks = 1  # type: ignore[misc]
