"""Smoke test of the activity-baseline benchmarks (``benchmarks/baselines.py``) at tiny sizes.

No ``__init__.py`` here on purpose: the test packages are imported by their directory name,
and a package ``benchmarks`` under tests/ would shadow the project's ``benchmarks`` package.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def bench_module() -> ModuleType:
    """``benchmarks.baselines``; ``pytest`` puts only tests/ on the path, not the root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.baselines")


def test_baseline_benchmarks_run_small_and_end_states_agree(tmp_path: Path) -> None:
    bench = bench_module()
    messages: list[str] = []
    results: dict[str, Any] = bench.run_baseline_benchmarks(
        tmp_path, rows=5_000, events_for_rmw=500, requests=20, scoring_events=5_000,
        log=messages.append)

    assert set(results) == set(bench.RESULT_KEYS)
    assert all(isinstance(figures, dict) for figures in results.values())
    sqlite, vigil = results["baseline_sqlite_rmw"], results["baseline_vigil_ingest"]
    assert sqlite["events"] == vigil["events"] == 500
    assert sqlite["journal_mode"] == "delete" and sqlite["synchronous"] == "FULL"
    assert all(run["stored"] == 500 for run in vigil["runs"])
    assert vigil["http_batches"]["stored"] == 500
    assert vigil["single_event"]["stored"] == vigil["single_event"]["events"] > 0
    ratio = results["baseline_ratio"]
    assert ratio["correct"] is True  # the run raises when the end states differ
    assert ratio["ratio"] == round(vigil["events_per_s"] / sqlite["events_per_s"], 2)
    patterns = results["patterns_latency_ms"]
    assert patterns["correct"] is True and patterns["events_stored"] == 5_000
    for phase in ("uncached", "cached"):
        assert patterns[phase]["requests"] == 20
        assert 0 < patterns[phase]["p50_ms"] <= patterns[phase]["p99_ms"]
    assert results["anomaly_scoring"]["events_per_s"] > 0
    for _, benchmark, metric, op, _, _ in bench.TARGETS:
        assert metric in results[benchmark] and op in (">=", ">", "<", "<=")
    assert any("end states agree" in message for message in messages)


def test_end_state_check_catches_a_difference() -> None:
    bench = bench_module()
    original = {"cam": {**bench.empty_baseline("cam"), "total_events": 1,
                        "last_event_at": "2026-03-22T10:00:00+00:00"}}
    original["cam"]["hourly_distribution"]["10"] = 1
    ours = {"cam": {**bench.empty_baseline("cam"), "total_events": 1,
                    "last_event_at": bench.parse_ts("2026-03-22T10:00:00Z")}}
    ours["cam"]["hourly_distribution"] = {**ours["cam"]["hourly_distribution"], "11": 1}
    found = bench.disagreements(original, ours)
    assert len(found) == 1 and found[0].startswith("cam.hourly_distribution")
