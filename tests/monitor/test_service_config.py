"""The detector's settings: readiness as for baselines, configurable severity cut-offs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.config import load_settings
from vigil.monitor.service import detector_config


def test_thresholds_and_readiness_come_from_the_settings() -> None:
    settings = load_settings(anomaly_event_thresholds="0.1,0.2,0.3",
                             anomaly_volume_thresholds="0.5, 0.6, 0.9",
                             baseline_min_days=3, baseline_min_events=10)
    config = detector_config(settings)
    assert config.events.thresholds.classify(0.25) == "medium"
    assert config.volume.thresholds.classify(0.95) == "high"
    assert (config.ready_min_days, config.ready_min_events) == (3, 10)


def test_defaults_are_the_scorers_own() -> None:
    config = detector_config(load_settings())
    assert config.events.thresholds.classify(0.9) == "high"
    assert config.events.thresholds.classify(0.1) is None


@pytest.mark.parametrize("text", ["0.1,0.2", "a,b,c", "0.5,0.2,0.9", "0,0.5,1"])
def test_bad_thresholds_are_refused(text: str) -> None:
    with pytest.raises(ValidationError, match="anomaly_event_thresholds"):
        load_settings(anomaly_event_thresholds=text)
