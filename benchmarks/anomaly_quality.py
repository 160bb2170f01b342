"""Anomaly detection benchmarks: quality on generated data and scoring throughput.

``run_anomaly_benchmarks()`` returns JSON-able figures:

- ``quality``: per seed and pooled over the seeds, per-type precision / recall / F1 on
  ``vigil generate`` data with injected anomalies (``anomaly_count`` of each type, 28 days,
  14-day warm-up), and false alarms per camera per week on the same data without anomalies
  (alarms of severity >= "medium", see :mod:`vigil.anomaly.evaluate`);
- ``detector_events_per_s``: :meth:`StreamDetector.process` over >= 1M generated events in
  chunks of ``chunk_rows`` (the best of ``repeats`` runs; decoding and hour closing
  included, table generation excluded);
- ``event_scorer_observe_per_s``: :meth:`EventScorer.observe` one event at a time.

Run alone: ``python -m benchmarks.anomaly_quality`` prints the JSON.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from vigil.anomaly import EventScorer
from vigil.anomaly.detector import StreamDetector
from vigil.anomaly.evaluate import TYPES, TypeScore, detector_events, evaluate_generated
from vigil.synth import ANOMALY_TYPES, SynthConfig, generate_events

SEEDS = (1, 2, 3, 4, 5)


def _type_figures(score: TypeScore) -> dict[str, float | int]:
    return {"precision": round(score.precision, 4), "recall": round(score.recall, 4),
            "f1": round(score.f1, 4), "alarms": score.alarms, "truths": score.truths}


def quality(seeds: Sequence[int], anomaly_count: int, days: int) -> dict[str, Any]:
    """Per-seed and pooled detection quality on generated data."""
    pooled = {kind: [0, 0, 0, 0] for kind in TYPES}
    false_alarms, camera_weeks = 0, 0.0
    per_seed = {}
    for seed in seeds:
        run = evaluate_generated(SynthConfig(seed=seed, days=days, anomalies=ANOMALY_TYPES,
                                             anomaly_count=anomaly_count))
        for kind, score in run.anomalous.per_type.items():
            for i, value in enumerate((score.alarms, score.matched_alarms, score.truths,
                                       score.found)):
                pooled[kind][i] += value
        false_alarms += run.clean.false_alarms
        camera_weeks += run.clean.camera_weeks
        per_seed[str(seed)] = {
            "f1": {k: round(s.f1, 4) for k, s in run.anomalous.per_type.items()},
            "clean_false_alarms_per_camera_week": round(
                run.clean.false_alarms_per_camera_week, 4),
        }
    return {
        "seeds": list(seeds), "anomaly_count": anomaly_count, "days": days,
        "pooled": {kind: _type_figures(TypeScore(*counts)) for kind, counts in pooled.items()},
        "clean_false_alarms_per_camera_week": round(false_alarms / camera_weeks, 4),
        "clean_false_alarms": false_alarms, "clean_camera_weeks": camera_weeks,
        "per_seed": per_seed,
        "counted_severity": "medium",
    }


def _events(rows: int, days: int) -> tuple[pa.Table, dict[str, str]]:
    config = SynthConfig(seed=11, days=days, rows=rows)
    zones = {c.camera_id: c.timezone for c in config.cameras}
    return detector_events(generate_events(config), zones), zones


def detector_throughput(events: pa.Table, zones: dict[str, str], chunk_rows: int,
                        repeats: int) -> dict[str, Any]:
    """Events per second of :meth:`StreamDetector.process` (best of ``repeats``)."""
    chunks = [events.slice(o, chunk_rows) for o in range(0, events.num_rows, chunk_rows)]
    best = float("inf")
    for _ in range(repeats):
        detector = StreamDetector()
        for source, tz in zones.items():
            detector.set_timezone(source, tz)
        started = time.perf_counter()
        for chunk in chunks:
            detector.process(chunk)
        best = min(best, time.perf_counter() - started)
    return {"events": events.num_rows, "chunk_rows": chunk_rows, "seconds": round(best, 3),
            "events_per_s": round(events.num_rows / best)}


def observe_throughput(events: pa.Table, n: int) -> dict[str, Any]:
    """Events per second of :meth:`EventScorer.observe`, one call per event."""
    rows = events.slice(0, n).select(["source_id", "labels", "local_date", "local_hour",
                                      "confidence"]).to_pylist()
    scorer = EventScorer()
    observe = scorer.observe
    started = time.perf_counter()
    for row in rows:
        for label in row["labels"]:
            observe(row["source_id"], label, 0, row["local_hour"],
                    row["confidence"] if row["confidence"] is not None else 1.0,
                    local_date=row["local_date"])
    elapsed = time.perf_counter() - started
    return {"events": len(rows), "seconds": round(elapsed, 3),
            "events_per_s": round(len(rows) / elapsed)}


def run_anomaly_benchmarks(*, seeds: Sequence[int] = SEEDS, anomaly_count: int = 3,
                           days: int = 28, throughput_rows: int = 1_000_000,
                           chunk_rows: int = 50_000, repeats: int = 2,
                           observe_events: int = 100_000) -> dict[str, Any]:
    """All anomaly figures as one JSON-able dict."""
    started = time.perf_counter()
    figures: dict[str, Any] = {"quality": quality(seeds, anomaly_count, days)}
    events, zones = _events(throughput_rows, days)
    figures["detector"] = detector_throughput(events, zones, chunk_rows, repeats)
    figures["detector_events_per_s"] = figures["detector"]["events_per_s"]
    figures["event_scorer_observe"] = observe_throughput(events, observe_events)
    figures["event_scorer_observe_per_s"] = figures["event_scorer_observe"]["events_per_s"]
    figures["wall_s"] = round(time.perf_counter() - started, 1)
    return figures


def main() -> None:
    """Print the figures as JSON."""
    print(json.dumps(run_anomaly_benchmarks(), indent=2))


if __name__ == "__main__":
    main()
