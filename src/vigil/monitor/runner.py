"""The detector at the edge: reads committed events, scores them, stores anomalies, queues alerts.

:class:`DetectionRunner` follows the event log by batch number (see
:mod:`vigil.monitor.cursor`), feeds each chunk to the pure
:class:`vigil.anomaly.detector.StreamDetector` and stores what it flags — with the alerts the
rules let through and the new cursor — in one transaction. It runs after ingestion, never
inside it: a detector failure is logged and counted, the state is rebuilt from the store and
the same events are read again, and ingestion is never slowed by more than reading.

On start (:meth:`prime`) the detector learns from the stored hourly counts of the last
``window_days`` local days, leaving out what it has not scored yet (those events are read
and scored next) and the events it flagged (an anomaly does not teach the baseline that it
is normal), so a restart resumes where it stopped. Remembered false positives are not
stored again at the same or a lower severity, and they are learned as normal.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from vigil.anomaly.detector import Detection, DetectorConfig, StreamDetector
from vigil.metrics import ANOMALIES, ANOMALIES_SUPPRESSED, DETECTOR_EVENTS, DETECTOR_FAILURES
from vigil.monitor.alerting import AlertPlanner
from vigil.monitor.cursor import BatchCursor
from vigil.monitor.records import detection_of, new_anomaly, stored_record
from vigil.store import Store
from vigil.store.alerts import NewDelivery
from vigil.store.anomalies import SEVERITY_ORDER, NewAnomaly, SavedAnomaly

T = TypeVar("T")
WriteFn = Callable[[Callable[[Store], T]], T]
Clock = Callable[[], dt.datetime]
DETECTOR_NAME = "anomalies"
CHUNK_ROWS = 200_000
log = logging.getLogger(__name__)


def utc_now() -> dt.datetime:
    """The wall clock, read at the edge only."""
    return dt.datetime.now(dt.UTC)


@dataclass
class CycleReport:
    """What one pass over the new events did."""

    events: int = 0
    stored: int = 0
    new: int = 0
    suppressed: int = 0
    alerts: int = 0
    by_type: Counter[str] = field(default_factory=Counter)

    def add(self, other: CycleReport) -> None:
        self.events += other.events
        self.stored += other.stored
        self.new += other.new
        self.suppressed += other.suppressed
        self.alerts += other.alerts
        self.by_type.update(other.by_type)


class DetectionRunner:
    """Scores the event log as it grows; see the module docstring."""

    def __init__(self, store: Store, *, write: WriteFn[Any] | None = None,
                 config: DetectorConfig | None = None, window_days: int = 56,
                 settle_seconds: float = 0.0, sinks: Sequence[str] = (),
                 name: str = DETECTOR_NAME) -> None:
        self.store = store
        self._write: WriteFn[Any] = write or (lambda fn: fn(store))
        self.config = config or DetectorConfig()
        self.window_days = window_days
        self.settle_seconds = settle_seconds
        self.name = name
        self.alerts = AlertPlanner(sinks)
        self.detector = StreamDetector(self.config)
        self.cursor = BatchCursor(0, settle_seconds)
        self._zones: dict[str, str] = {}
        self._false_positives: dict[tuple[str, str], str] = {}
        self.primed = False

    # -- state ---------------------------------------------------------------------------------
    def prime(self, now: dt.datetime) -> None:
        """Rebuild the detector's state from the store (see the module docstring)."""
        store = self.store
        stored_cursor = store.detector_cursor(self.name)
        start = store.newest_ingest_batch() if stored_cursor is None else stored_cursor
        if stored_cursor is None:
            self._write(lambda s: s.save_detector_cursor(self.name, start, now))
        self.detector = StreamDetector(self.config)
        self.cursor = BatchCursor(start, self.settle_seconds)
        self._zones = {}  # the new detector knows no zones yet
        self._refresh_zones()
        last_event = store.newest_event_times(up_to_batch=start)
        types = sorted(self.config.event_types)
        since = (max(last_event.values()).date() - dt.timedelta(days=self.window_days)
                 if last_event else None)
        rows = store.label_hourly_counts(types, since)
        unlearned = [*store.label_hourly_counts_after(start, types),
                     *store.unlearned_event_anomalies()]
        self.detector.prime(_subtract(rows, unlearned), last_event=last_event)
        self._false_positives = store.false_positive_patterns()
        self.alerts.load_rules(store.list_alert_rules())
        self.primed = True
        log.debug("anomaly detector primed: %d hourly rows, resuming after batch %d",
                 len(rows), start)

    def _refresh_zones(self) -> None:
        for source, zone in self.store.source_timezones().items():
            if self._zones.get(source) != zone:
                self._zones[source] = zone
                self.detector.set_timezone(source, zone)

    def _refresh_false_positives(self) -> None:
        """Learn newly marked false positives as normal; remember them all."""
        current = self.store.false_positive_patterns()
        for key in current.keys() - self._false_positives.keys():
            for record in self.store.list_false_positive_anomalies(*key):
                self.detector.learn_as_normal(detection_of(record))
        self._false_positives = current

    # -- one pass --------------------------------------------------------------------------------
    def run_once(self, now: dt.datetime, monotonic: float | None = None) -> CycleReport:
        """Score every new committed event, then close hours up to ``now`` (wall clock)."""
        mono = time.monotonic() if monotonic is None else monotonic
        if not self.primed:
            self.prime(now)
        self._refresh_zones()
        self._refresh_false_positives()
        self.alerts.load_rules(self.store.list_alert_rules())
        report = CycleReport()
        sizes = dict(self.store.event_batches_after(self.cursor.value))
        for chunk in _chunks(self.cursor.unseen(sizes), sizes, CHUNK_ROWS):
            events = self._read(chunk)
            found = self.detector.process(events)
            self.cursor.mark_done(chunk, mono)
            report.add(self._persist(found, now))
            report.events += events.num_rows
            DETECTOR_EVENTS.inc(events.num_rows)
        before = self.cursor.value
        self.cursor.mark_done((), mono)
        found = self.detector.advance(now)
        if found or self.cursor.value != before:
            report.add(self._persist(found, now))
        return report

    def _read(self, chunk: list[int]) -> pa.Table:
        events = self.store.events_of_batches(chunk[0], chunk[-1])
        if len(chunk) != chunk[-1] - chunk[0] + 1:  # batches in between were read before
            events = events.filter(pc.is_in(events.column("ingest_batch"),
                                            pa.array(chunk, pa.int64())))
        return events

    def _persist(self, found: Sequence[Detection], now: dt.datetime) -> CycleReport:
        """Store flagged anomalies, their alerts and the cursor in one transaction."""
        report = CycleReport()
        items: list[NewAnomaly] = []
        for detection in found:
            if self._is_false_positive(detection):
                report.suppressed += 1
                ANOMALIES_SUPPRESSED.inc()
                continue
            items.append(new_anomaly(detection, self._zones.get(detection.source_id, "UTC")))
        cursor = self.cursor.value

        def write(store: Store) -> tuple[list[SavedAnomaly], list[NewDelivery]]:
            with store.transaction():
                saved = store.save_anomalies(items, now) if items else []
                deliveries = self._deliveries(items, saved, now)
                if deliveries:
                    store.enqueue_deliveries(deliveries, now)
                store.save_detector_cursor(self.name, cursor, now)
            return saved, deliveries

        saved, deliveries = self._write(write)
        for item, outcome in zip(items, saved, strict=True):
            report.stored += 1
            report.new += outcome.new
            report.by_type[item.anomaly_type] += outcome.new
            if outcome.new:
                ANOMALIES.labels(item.anomaly_type, item.severity).inc()
        report.alerts = len(deliveries)
        self.alerts.committed(deliveries)
        return report

    def _deliveries(self, items: Sequence[NewAnomaly], saved: Sequence[SavedAnomaly],
                    now: dt.datetime) -> list[NewDelivery]:
        deliveries: list[NewDelivery] = []
        for item, outcome in zip(items, saved, strict=True):
            if outcome.new or outcome.escalated:
                record = stored_record(item, outcome.anomaly_id, "open", now)
                deliveries.extend(self.alerts.plan(record, now))
        return deliveries

    def _is_false_positive(self, detection: Detection) -> bool:
        marked = self._false_positives.get((detection.source_id, detection.key))
        return marked is not None and (SEVERITY_ORDER[detection.severity]
                                       <= SEVERITY_ORDER.get(marked, 0))


def _chunks(batches: list[int], sizes: dict[int, int], rows: int) -> Iterable[list[int]]:
    """Consecutive runs of batches holding about ``rows`` events each (a big batch alone)."""
    chunk: list[int] = []
    total = 0
    for batch in batches:
        if chunk and total + sizes[batch] > rows:
            yield chunk
            chunk, total = [], 0
        chunk.append(batch)
        total += sizes[batch]
    if chunk:
        yield chunk


def _subtract(rows: list[tuple[str, str, dt.date, int, int]],
              less: Iterable[tuple[str, str, dt.date, int, int]]
              ) -> list[tuple[str, str, dt.date, int, int]]:
    """Hourly rows minus other counts of the same keys (never below zero)."""
    minus: Counter[tuple[str, str, dt.date, int]] = Counter()
    for source, label, day, hour, count in less:
        minus[(source, label, day, hour)] += count
    if not minus:
        return rows
    out = []
    for source, label, day, hour, count in rows:
        left = count - minus.get((source, label, day, hour), 0)
        if left > 0:
            out.append((source, label, day, hour, left))
    return out


class RunnerThread:
    """Runs a :class:`DetectionRunner` in the background of the service.

    It wakes on :meth:`notify` (a commit) and at least every ``tick_seconds`` (so hours
    close and stopped sources are noticed), no more often than every ``min_interval``
    seconds. With several workers only the one holding the ``detector`` role runs it.
    """

    def __init__(self, runner: DetectionRunner, *, clock: Clock = utc_now,
                 tick_seconds: float = 60.0, min_interval: float = 0.5,
                 on_cycle: Callable[[CycleReport], None] | None = None) -> None:
        self.runner = runner
        self.clock = clock
        self.tick_seconds = tick_seconds
        self.min_interval = min_interval
        self.on_cycle = on_cycle
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._progress = threading.Condition()
        self._requested = 0  # notifications so far
        self._finished = 0  # notifications covered by a finished pass
        self._thread = threading.Thread(target=self._loop, name="vigil-detector", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def notify(self) -> None:
        """New data was committed: look soon."""
        with self._progress:
            self._requested += 1
        self._wake.set()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until a pass that started after the last :meth:`notify` has finished."""
        with self._progress:
            target = self._requested
            return self._progress.wait_for(lambda: self._finished >= target, timeout)

    def _finish(self, covered: int) -> None:
        with self._progress:
            self._finished = max(self._finished, covered)
            self._progress.notify_all()

    def _loop(self) -> None:
        leader = False
        failures = 0
        while not self._stop.is_set():
            self._wake.wait(self.tick_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            with self._progress:
                covered = self._requested
            if not leader:
                leader = self.runner.store.claim_role("detector")
                if not leader:
                    self._finish(covered)
                    continue
            try:
                report = self.runner.run_once(self.clock())
            except Exception:
                failures += 1
                DETECTOR_FAILURES.inc()
                log.exception("anomaly detection failed (attempt %d); rebuilding its state",
                              failures)
                self.runner.primed = False
                self._stop.wait(min(60.0, 0.5 * 2 ** min(failures, 7)))
                self._wake.set()
                continue
            failures = 0
            if self.on_cycle is not None and (report.stored or report.alerts):
                self.on_cycle(report)
            self._finish(covered)
            self._stop.wait(self.min_interval)
