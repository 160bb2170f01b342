"""Smoke test of the dashboard page-load benchmarks (``benchmarks/dashboard.py``) at a tiny
size: a real ``vigil serve`` and the system Chromium.

No ``__init__.py`` here on purpose (see test_baselines_bench.py).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def bench_module() -> ModuleType:
    """``benchmarks.dashboard``; ``pytest`` puts only tests/ on the path, not the root."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("benchmarks.dashboard")


def test_dashboard_benchmarks_measure_every_page(tmp_path: Path) -> None:
    bench = bench_module()
    assert bench.missing_browser() is None, bench.missing_browser()
    size = bench.Size(cameras=4, days=9, rows=3_000, warm_loads=1, compare_cameras=5,
                      compare_rows=1_000)
    messages: list[str] = []
    results: dict[str, Any] = bench.run_dashboard_benchmarks(tmp_path, size,
                                                             log=messages.append)

    assert set(results) == set(bench.RESULT_KEYS)
    pages, compared = results["dashboard_pages"], results["dashboard_overview_sources"]
    assert pages["errors"] == {} and pages["correct"] is True
    assert pages["sources"] == 4 and 2_900 < pages["events_stored"] < 3_100
    assert set(pages["pages"]) == set(bench.PAGES)
    assert pages["pages"]["camera"]["route"] == f"camera/{pages['busiest_source']}"
    for name, shown in pages["pages"].items():
        assert shown["cold_ms"] > 0 and len(shown["warm_ms"]) == 1, name
        assert shown["warm_p50_ms"] == shown["warm_ms"][0] > 0, name
        assert shown["api_requests"] > 0 and shown["api_bytes"] > 0, name
        assert shown["api_paths"]["/api/v1/cameras"] >= 1, name  # the shell's own request
        assert sum(shown["api_paths"].values()) == shown["api_requests"], name
        assert shown["static_requests"] > 0, name
        assert pages[f"{name}_warm_p50_ms"] == shown["warm_p50_ms"], name
    assert pages["max_warm_p50_ms"] == max(p["warm_p50_ms"] for p in pages["pages"].values())
    assert pages["max_cold_ms"] == pages["pages"][pages["slowest_cold"]]["cold_ms"]
    assert len(pages["server_start_seconds"]) == len(bench.PAGES)

    assert (compared["sources_few"], compared["sources_many"]) == (4, 5)
    assert compared["requests_few"] == pages["overview_api_requests"]
    assert compared["overview_requests_constant"] is (
        compared["requests_few"] == compared["requests_many"])
    assert compared["correct"] is compared["overview_requests_constant"]
    for _, benchmark, metric, op, _, _ in bench.TARGETS:
        assert isinstance(results[benchmark][metric], float), metric
        assert op in ("<", "<=", ">", ">=")
    for name, benchmark in bench.CORRECTNESS:
        assert "correct" in results[benchmark], name
