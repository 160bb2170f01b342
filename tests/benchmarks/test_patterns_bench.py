"""Smoke test of the pattern detector benchmarks (``benchmarks/patterns.py``) at tiny sizes.

No ``__init__.py`` here on purpose (see test_baselines_bench.py).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench_module() -> ModuleType:
    """``benchmarks.patterns``; ``pytest`` puts only tests/ on the path, not the root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.patterns")


def test_pattern_benchmarks_run_small_and_both_ways_agree(tmp_path: Path) -> None:
    bench = bench_module()
    results: dict[str, Any] = bench.run_pattern_benchmarks(tmp_path, events_per_day=1_000,
                                                           rounds=1, entities=10)

    assert set(results) == set(bench.RESULT_KEYS)
    daily, detect = results["pattern_daily_pass"], results["pattern_detect_30d"]
    compared = results["pattern_batch_vs_incremental"]
    assert daily["build"]["days"] == 30 and 28_000 < daily["build"]["events"] < 40_000
    assert 700 < daily["day_events"] < 1_600
    assert set(daily["per_detector_s"]) == set(daily["detectors"])
    assert detect["days"] == 30 and sum(detect["patterns"].values()) > 0
    assert 0.99 * daily["build"]["events"] <= compared["raw_events"] <= daily["build"]["events"]
    assert compared["correct"] is True and compared["differences"] == {}
    assert compared["patterns"] == detect["patterns"]
    assert compared["ratio"] == pytest.approx(  # both times are rounded in the figures
        compared["batch_seconds"] / compared["incremental_seconds"], rel=0.05)
    for _, benchmark, metric, op, _, _ in bench.TARGETS:
        assert metric in results[benchmark] and op in (">=", ">", "<", "<=")
    for name, benchmark in bench.CORRECTNESS:
        assert "correct" in results[benchmark], name
