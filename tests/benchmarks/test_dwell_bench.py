"""Smoke test of the dwell analytics benchmarks (``benchmarks/dwell.py``) at a tiny size.

No ``__init__.py`` here on purpose: the test packages are imported by their directory name,
and a package ``benchmarks`` under tests/ would shadow the project's ``benchmarks`` package.
"""

from __future__ import annotations

import copy
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROWS = 20_000


def bench_module() -> ModuleType:
    """``benchmarks.dwell``; ``pytest`` puts only tests/ on the path, not the root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.dwell")


def test_dwell_benchmarks_run_small_and_match_pandas(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    bench = bench_module()
    monkeypatch.delenv(bench.CACHE_ENV, raising=False)
    messages: list[str] = []
    results: dict[str, Any] = bench.run_dwell_benchmarks(
        tmp_path, rows=ROWS, api_rows=ROWS, rounds=1, stored_runs=1, api_requests=3,
        probe_default_limit=False, log=messages.append)

    assert set(results) == set(bench.RESULT_KEYS)
    for _, benchmark, metric, op, _, _ in bench.TARGETS:  # every figure is present
        assert isinstance(results[benchmark][metric], int | float), (benchmark, metric)
        assert results[benchmark][metric] > 0 and op in (">=", ">", "<", "<=")
    for _, benchmark in bench.CORRECTNESS:  # the run raises when any number differs
        assert results[benchmark]["correct"] is True
    pandas, csv, stored = (results[k] for k in ("dwell_pandas", "dwell_csv", "dwell_stored"))
    assert pandas["rows"] == csv["rows"] == stored["rows"] == ROWS
    assert pandas["answers"]["events"] == stored["events_stored"] == ROWS
    assert pandas["answers"]["complete_sessions"] > pandas["answers"]["incomplete_sessions"] > 0
    assert pandas["data"]["entry_exit_share"] > 0.9
    assert stored["build"]["stored_events"] == ROWS
    assert csv["ratio_vs_pandas"] == round(pandas["seconds"] / csv["seconds"], 2)
    assert stored["ratio_vs_pandas"] == round(pandas["seconds"] / stored["seconds"], 2)
    assert 0 < csv["kpis_seconds"] <= csv["seconds"]
    for figures in (pandas, csv, stored, results["dwell_cli"]):
        assert figures["peak_rss_mib"] > 0
    api = results["dwell_api"]
    assert api["events_stored"] == ROWS
    for endpoint in bench.ENDPOINTS:
        assert api["uncached"][endpoint]["requests"] == 3
        assert 0 < api[f"{endpoint}_cached_p50_ms"]
    assert any("numbers identical" in message for message in messages)


def test_a_different_number_fails_loudly() -> None:
    bench = bench_module()
    pandas = {"events": 10, "unique_visitors": 3, "sessions": {"complete": 2, "open": 0,
                                                                "timed_out": 1,
                                                                "orphan_exit": 0},
              "complete_sessions": 2, "incomplete_sessions": 1, "mean_dwell_ms": 1500.0,
              "median_dwell_ms": 1500.0, "max_dwell_ms": 2000, "total_dwell_ms": 3000,
              "per_camera": {"cam": {"complete": 2, "mean_ms": 1500.0, "median_ms": 1500.0,
                                     "max_ms": 2000}},
              "occupancy": {"first_bucket_ms": 0, "buckets": 2, "max": [1, 2],
                            "mean": [0.5, 1.0]}}
    assert bench.differences(pandas, copy.deepcopy(pandas)) == []
    vigil = copy.deepcopy(pandas)
    vigil["occupancy"]["max"][1] = 3
    vigil["per_camera"]["cam"]["median_ms"] = 1499.5
    found = bench.differences(pandas, vigil)
    assert len(found) == 2
    assert found[0].startswith("per_camera.cam.median_ms")
    assert found[1].startswith("occupancy.max: 1 of 2 differ")
    with pytest.raises(bench.AnswersDiffer, match="2 answer"):
        bench.check_same("test", pandas, vigil, lambda _: None)


def test_file_only_benchmarks_run_small_and_match_pandas(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bench = bench_module()
    monkeypatch.delenv(bench.CACHE_ENV, raising=False)
    messages: list[str] = []
    results: dict[str, Any] = bench.run_file_benchmarks(tmp_path, rows=ROWS, rounds=1,
                                                        log=messages.append)

    assert set(results) == {"dwell_pandas", "dwell_csv", "dwell_cli"}
    pandas, csv, cli = (results[k] for k in ("dwell_pandas", "dwell_csv", "dwell_cli"))
    assert csv["correct"] is True and cli["correct"] is True
    assert csv["ratio_vs_pandas"] == round(pandas["seconds"] / csv["seconds"], 2)
    assert cli["ratio_vs_pandas"] == round(pandas["seconds"] / cli["wall_s"], 2)
    assert pandas["run"]["file_only"] is True and not (tmp_path / "dwell-20000.duckdb").exists()
    assert any("numbers identical" in message for message in messages)
