"""How good are the detections? Matching against ground truth, and a shared runner.

:func:`evaluate` matches detections to ground-truth anomalies. Units are *alarms*: an event
anomaly is one alarm per event, a volume anomaly one alarm per ``run_id`` (a silence that
grows over several hours is one alarm), counted when its worst severity reaches
``min_severity`` (default ``"medium"``, the alerting default). An alarm matches a truth
anomaly of the same source and type whose window ``[start, end)`` overlaps the alarm's
window widened by ``tolerance`` on both sides (default one hour: volume windows are whole
local hours). Labels are not compared. Per type: precision = matched alarms / alarms,
recall = truth anomalies with a matching alarm / truth anomalies, F1 their harmonic mean.
Unmatched alarms are false alarms, also given per camera per week over ``[since, until)``.

:func:`detector_events` turns a generated table (:func:`vigil.synth.generate_events`) into
the events a :class:`StreamDetector` consumes, :func:`run_detector` feeds them in time
order in chunks, then advances the clock to the end, and :func:`evaluate_generated` scores a
generated dataset and its clean twin, so tests and benchmarks share them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from vigil.anomaly.detector import Detection, DetectorConfig, StreamDetector
from vigil.anomaly.result import SEVERITY_RANK, AnomalyType, Severity
from vigil.store.arrowderive import local_time_columns
from vigil.synth import SynthConfig, generate_events, ground_truth

TYPES: tuple[AnomalyType, ...] = ("rare_time", "novel_object", "spike", "silence")
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class TruthAnomaly:
    """One injected anomaly: source, type, label (``None``: all) and UTC window."""

    source_id: str
    type: str
    label: str | None
    start: datetime
    end: datetime


@dataclass(frozen=True)
class TypeScore:
    """Precision, recall and F1 of one anomaly type."""

    alarms: int
    matched_alarms: int
    truths: int
    found: int

    @property
    def precision(self) -> float:
        return self.matched_alarms / self.alarms if self.alarms else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.truths if self.truths else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True)
class Evaluation:
    """Scores per type, false alarms and what they are measured over."""

    per_type: dict[str, TypeScore]
    false_alarms: int
    camera_weeks: float
    missed: list[TruthAnomaly] = field(default_factory=list)
    unmatched: list[Detection] = field(default_factory=list)

    @property
    def false_alarms_per_camera_week(self) -> float:
        return self.false_alarms / self.camera_weeks if self.camera_weeks else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "per_type": {kind: {"precision": s.precision, "recall": s.recall, "f1": s.f1,
                                "alarms": s.alarms, "truths": s.truths}
                         for kind, s in self.per_type.items()},
            "false_alarms": self.false_alarms,
            "camera_weeks": self.camera_weeks,
            "false_alarms_per_camera_week": self.false_alarms_per_camera_week,
        }


@dataclass
class _Alarm:
    """Detections sharing one alarm key: worst severity and the union of their windows."""

    first: Detection
    severity: Severity
    start: datetime
    end: datetime


def truth_from_records(records: Iterable[Mapping[str, Any]]) -> list[TruthAnomaly]:
    """Truth anomalies from the generator's records (``ground_truth(...)["anomalies"]``)."""
    return [TruthAnomaly(str(r["source_id"]), str(r["type"]), r.get("label"),
                         _parse(str(r["start"])), _parse(str(r["end"]))) for r in records]


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def alarms(detections: Iterable[Detection], min_severity: Severity = "medium"
           ) -> list[_Alarm]:
    """Group detections into alarms (event id, else run id) reaching ``min_severity``."""
    grouped: dict[str, _Alarm] = {}
    for d in detections:
        key = d.event_id or d.run_id or f"{d.source_id}/{d.key}/{d.window_start.isoformat()}"
        found = grouped.get(key)
        if found is None:
            grouped[key] = _Alarm(d, d.severity, d.window_start, d.window_end)
            continue
        if SEVERITY_RANK[d.severity] > SEVERITY_RANK[found.severity]:
            found.severity = d.severity
        found.start, found.end = min(found.start, d.window_start), max(found.end, d.window_end)
    rank = SEVERITY_RANK[min_severity]
    return [a for a in grouped.values() if SEVERITY_RANK[a.severity] >= rank]


def _matches(alarm: _Alarm, truth: TruthAnomaly, tolerance: timedelta) -> bool:
    d = alarm.first
    return (d.source_id == truth.source_id and d.type == truth.type
            and alarm.start - tolerance < truth.end and truth.start < alarm.end + tolerance
            + (timedelta(microseconds=1) if alarm.start == alarm.end else timedelta(0)))


def evaluate(detections: Iterable[Detection], truth: Sequence[TruthAnomaly], *,
             cameras: int, since: datetime, until: datetime,
             tolerance: timedelta = timedelta(hours=1),
             min_severity: Severity = "medium") -> Evaluation:
    """Match alarms in ``[since, until)`` to ``truth`` (see the module docstring)."""
    found = [a for a in alarms(detections, min_severity) if since <= a.start < until]
    per_type: dict[str, TypeScore] = {}
    missed: list[TruthAnomaly] = []
    unmatched: list[Detection] = []
    for kind in TYPES:
        mine = [a for a in found if a.first.type == kind]
        truths = [t for t in truth if t.type == kind]
        hit = [any(_matches(a, t, tolerance) for t in truths) for a in mine]
        seen = [any(_matches(a, t, tolerance) for a in mine) for t in truths]
        per_type[kind] = TypeScore(len(mine), sum(hit), len(truths), sum(seen))
        missed += [t for t, ok in zip(truths, seen, strict=True) if not ok]
        unmatched += [a.first for a, ok in zip(mine, hit, strict=True) if not ok]
    weeks = cameras * ((until - since) / WEEK)
    return Evaluation(per_type, len(unmatched), weeks, missed, unmatched)


def detector_events(table: pa.Table, zones: Mapping[str, str]) -> pa.Table:
    """The generator's table as detector input (valid rows only, sorted by time)."""
    text = table.column("timestamp")
    iso = pc.match_substring_regex(text, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
    table = table.filter(pc.fill_null(iso, False))
    ts = table.column("timestamp").cast(pa.timestamp("us", tz="UTC"))
    events = pa.table({
        "event_id": table.column("event_id"),
        "source_id": table.column("camera_id"),
        "event_type": table.column("event_type"),
        "ts": ts,
        "labels": _singletons(table.column("label").combine_chunks()),
        "confidence": table.column("confidence"),
    })
    valid = pc.and_(pc.is_valid(events.column("ts")), pc.is_valid(events.column("source_id")))
    events = events.filter(valid)
    events = events.take(pc.sort_indices(events, [("ts", "ascending")]))
    local = local_time_columns(events, dict(zones))
    for name, column in local.items():
        events = events.append_column(name, column)
    return events


def _singletons(labels: pa.Array) -> pa.Array:
    """Each label as a one-element list (null: an empty list)."""
    valid = pc.is_valid(labels).cast(pa.int32())
    offsets = pa.concat_arrays([pa.array([0], pa.int32()), pc.cumulative_sum(valid)])
    return pa.ListArray.from_arrays(offsets, labels.drop_null())


def run_detector(events: pa.Table, zones: Mapping[str, str], *, end: datetime,
                 config: DetectorConfig | None = None, chunk_rows: int = 50_000,
                 detector: StreamDetector | None = None) -> list[Detection]:
    """Feed ``events`` (time order) in chunks of ``chunk_rows``, then ``advance(end)``."""
    detector = detector or StreamDetector(config)
    for source, tz in zones.items():
        detector.set_timezone(source, tz)
    found: list[Detection] = []
    for offset in range(0, events.num_rows, chunk_rows):
        found += detector.process(events.slice(offset, chunk_rows))
    found += detector.advance(end)
    return found


@dataclass(frozen=True)
class GeneratedRun:
    """Scores of one generated dataset with anomalies and of the same data without them."""

    anomalous: Evaluation
    clean: Evaluation
    events: int


def evaluate_generated(config: SynthConfig, detector_config: DetectorConfig | None = None,
                       *, chunk_rows: int = 50_000) -> GeneratedRun:
    """Run the detector over ``config``'s data and over its clean twin; evaluate both over
    the days after the anomaly warm-up (the only days that can hold injected anomalies)."""
    zones = {c.camera_id: c.timezone for c in config.cameras}
    start = datetime.combine(config.start, time(0), UTC)
    since = start + timedelta(days=config.anomaly_warmup_days)
    until = start + timedelta(days=config.days)
    table = generate_events(config)
    truth = truth_from_records(ground_truth(table, config)["anomalies"])
    events = detector_events(table, zones)
    found = run_detector(events, zones, end=until, config=detector_config,
                         chunk_rows=chunk_rows)
    clean = detector_events(generate_events(replace(config, anomalies=())), zones)
    quiet = run_detector(clean, zones, end=until, config=detector_config,
                         chunk_rows=chunk_rows)
    cameras = len(config.cameras)
    return GeneratedRun(
        evaluate(found, truth, cameras=cameras, since=since, until=until),
        evaluate(quiet, [], cameras=cameras, since=since, until=until),
        events.num_rows,
    )
