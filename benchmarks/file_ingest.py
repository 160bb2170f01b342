"""File ingest benchmarks: ``vigil ingest FILE`` in a subprocess, timed end to end."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from benchmarks.procs import clean_env, run_measured
from vigil.synth import SynthConfig, generate_events, ground_truth, write_dataset

INGEST_TIMEOUT_S = 900.0
STARTUP_RUNS = 3
MIB = 1024 * 1024
Log = Callable[[str], None]


def make_csv(config: SynthConfig, folder: Path, name: str) -> tuple[Path, pa.Table]:
    """Generate ``config``'s table and write it as ``folder/name.csv``."""
    table = generate_events(config)
    path = write_dataset(table, folder, ("csv",), name)["csv"]
    return path, table


def expected_rejections(table: pa.Table, config: SynthConfig) -> dict[str, int]:
    """Bad rows per reason according to the generator's ground truth."""
    truth = ground_truth(table, config)
    return {reason: len(lines) for reason, lines in truth["bad_rows"].items() if lines}


def cli_startup_s(vigil: Path, workdir: Path) -> float:
    """Median wall time of ``vigil version`` (interpreter start and imports), for context."""
    runs = [run_measured([str(vigil), "version"], workdir, 60.0, clean_env()).wall_s
            for _ in range(STARTUP_RUNS)]
    return statistics.median(runs)


def ingest(vigil: Path, csv: Path, db: Path, workdir: Path, startup_s: float,
           extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """Run ``vigil ingest CSV --json --quiet --db DB`` once (anomaly scoring on, unless
    ``extra`` says ``--no-detect``); figures and the report."""
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [str(vigil), "ingest", str(csv), "--json", "--quiet", "--db", str(db), *extra]
    run = run_measured(argv, workdir, INGEST_TIMEOUT_S, clean_env())
    if run.returncode != 0:
        raise RuntimeError(f"vigil ingest failed ({run.returncode}):\n{run.stderr[-4000:]}")
    report: dict[str, Any] = json.loads(run.stdout)
    rows = int(report["rows_read"])
    size = csv.stat().st_size
    in_process = max(run.wall_s - startup_s, 1e-9)
    return {
        "rows": rows,
        "file_mib": round(size / MIB, 1),
        "wall_s": round(run.wall_s, 3),
        "rows_per_s": round(rows / run.wall_s),
        "mib_per_s": round(size / MIB / run.wall_s, 1),
        "rows_per_s_excluding_cli_startup": round(rows / in_process),
        "peak_rss_mib": round(run.peak_rss_bytes / MIB, 1),
        "vm_hwm_mib": round(run.vm_hwm_bytes / MIB, 1),
        "sampled_tree_peak_rss_mib": round(run.sampled_tree_peak_bytes / MIB, 1),
        "accepted": int(report["accepted"]),
        "duplicates": int(report["duplicates"]),
        "rejected": int(report["rejected"]),
        "rejected_by_reason": {k: int(v["count"])
                               for k, v in report.get("rejected_by_reason", {}).items()},
    }


def detection_overhead(vigil: Path, csv: Path, tmp: Path, startup: float,
                       clean_rate: float, rounds: int = 2) -> dict[str, Any]:
    """The clean ingest with anomaly scoring (the default) against ``--no-detect``, in
    alternating rounds on fresh files; the best rate of each counts (the machine is noisy)."""
    with_scoring, without = [clean_rate], []
    for n in range(rounds):
        off = ingest(vigil, csv, tmp / f"off{n}.duckdb", tmp / f"run-off{n}", startup,
                     ("--no-detect",))
        on = ingest(vigil, csv, tmp / f"on{n}.duckdb", tmp / f"run-on{n}", startup)
        without.append(off["rows_per_s"])
        with_scoring.append(on["rows_per_s"])
    best_on, best_off = max(with_scoring), max(without)
    return {"rows_per_s_with_scoring": best_on, "rows_per_s_without_scoring": best_off,
            "slowdown": round(1.0 - best_on / best_off, 3),
            "runs_with_scoring": with_scoring, "runs_without_scoring": without}


def run_file_benchmarks(vigil: Path, rows: int, tmp: Path, log: Log
                        ) -> tuple[dict[str, Any], Path]:
    """Benchmarks 1-3: clean file, file with 1 % bad rows, clean file again (duplicates).

    Returns the figures and the clean CSV (for the PostgreSQL reference).
    """
    data = tmp / "data"
    started = time.perf_counter()
    clean_cfg = SynthConfig(rows=rows)
    clean_csv, _ = make_csv(clean_cfg, data, "clean")
    bad_cfg = SynthConfig(rows=rows, bad_fraction=0.01)
    bad_csv, bad_table = make_csv(bad_cfg, data, "bad")
    truth_rejected = expected_rejections(bad_table, bad_cfg)
    del bad_table
    log(f"generated {rows:,}-row CSVs in {time.perf_counter() - started:.1f} s")

    startup = cli_startup_s(vigil, tmp)
    log(f"vigil CLI startup: {startup:.2f} s")

    clean_db = tmp / "clean.duckdb"
    clean = ingest(vigil, clean_csv, clean_db, tmp / "run-clean", startup)
    clean["correct"] = clean["accepted"] == rows and clean["rejected"] == 0
    log(f"clean ingest: {clean['rows_per_s']:,} rows/s, peak RSS {clean['peak_rss_mib']} MiB")

    bad = ingest(vigil, bad_csv, tmp / "bad.duckdb", tmp / "run-bad", startup)
    expected = sum(truth_rejected.values())
    bad["expected_rejected"] = expected
    bad["expected_rejected_by_reason"] = truth_rejected
    bad["rejected_matches_truth"] = bad["rejected"] == expected
    bad["rejected_by_reason_matches_truth"] = bad["rejected_by_reason"] == truth_rejected
    bad["correct"] = (bad["rejected_matches_truth"]
                      and bad["accepted"] + bad["rejected"] == rows)
    log(f"1 % bad ingest: {bad['rows_per_s']:,} rows/s, rejected {bad['rejected']:,} "
        f"(truth {expected:,})")

    again = ingest(vigil, clean_csv, clean_db, tmp / "run-again", startup)
    again["correct"] = again["accepted"] == 0 and again["duplicates"] == rows
    log(f"re-ingest: {again['rows_per_s']:,} rows/s, duplicates {again['duplicates']:,}")

    detection = detection_overhead(vigil, clean_csv, tmp, startup, clean["rows_per_s"])
    log(f"anomaly scoring on: {detection['rows_per_s_with_scoring']:,} rows/s, off: "
        f"{detection['rows_per_s_without_scoring']:,} rows/s (slowdown "
        f"{detection['slowdown']:.1%})")

    figures = {
        "cli_startup_s": round(startup, 3),
        "file_ingest_clean": clean,
        "file_ingest_scoring_overhead": detection,
        "file_ingest_bad_rows": bad,
        "file_reingest_duplicates": again,
    }
    return figures, clean_csv
