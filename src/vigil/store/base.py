"""The store interface every backend (DuckDB, PostgreSQL) satisfies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from vigil.store.alerts import DeliveryOutcome, NewDelivery
from vigil.store.anomalies import AnomalyFilter, NewAnomaly, SavedAnomaly

if TYPE_CHECKING:  # vigil.dwell may import this module: no cycle at run time
    from vigil.dwell.pairing import GroupBy
    from vigil.patterns.base import Pattern

# Columns of a finalised batch handed to ``insert_events``, in order.
EVENT_INPUT_SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("source_id", pa.string()),
        ("event_type", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("labels", pa.list_(pa.string())),
        ("confidence", pa.float64()),
        ("model_id", pa.string()),
        ("frame_id", pa.int64()),
        ("subject_id", pa.string()),
        ("zone", pa.string()),
        ("state", pa.string()),
        ("detections", pa.string()),
        ("attributes", pa.string()),
    ]
)

__all__ = ["EVENT_INPUT_SCHEMA", "HOURLY_KEY", "DeadLetter", "EventFilter", "EventPage",
           "SourceInfo", "Store", "StoreUnavailableError", "UploadState"]

HOURLY_KEY = ("source_id", "event_type", "label", "local_date", "local_hour")


class StoreUnavailableError(RuntimeError):
    """The database server cannot be reached or refused the connection."""


@dataclass(frozen=True)
class EventFilter:
    """Filters of the event listing; every field is optional."""

    source_id: str | None = None
    event_type: str | None = None
    label: str | None = None
    subject_id: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass(frozen=True)
class EventPage:
    """One page of events and the cursor of the next page (``None`` at the end)."""

    events: list[dict[str, Any]]
    next_cursor: tuple[dt.datetime, str] | None


@dataclass(frozen=True)
class SourceInfo:
    """A source (camera or entity) with its setting and activity."""

    source_id: str
    timezone: str
    event_count: int = 0
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None
    area: str | None = None  # the room or area it is in (Home Assistant area), if set


@dataclass
class UploadState:
    """Progress of a background upload."""

    upload_id: str
    filename: str
    status: str
    bytes_total: int = 0
    bytes_done: int = 0
    rows_read: int = 0
    report: dict[str, Any] | None = None
    error: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    uploaded_by: str | None = None  # id of the API key that sent it (None: no keys in use)


@dataclass(frozen=True)
class DeadLetter:
    """A message that could not be ingested, kept with the reason for inspection."""

    dead_letter_id: int | None
    received_at: dt.datetime
    transport: str  # e.g. "mqtt"
    topic: str | None
    reason: str
    message: str
    payload: str  # the message text (bytes that are not UTF-8 are replaced)
    payload_bytes: int


class Store(Protocol):
    """Storage of the event log and the state around it."""

    url: str
    default_timezone: str

    def transaction(self) -> AbstractContextManager[None]:
        """Group several writes into one commit (re-entrant)."""
        ...

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether a failed transaction may succeed when simply run again."""
        ...

    def insert_events(self, batch: pa.Table) -> int:
        """Insert a finalised batch; returns how many rows were new."""
        ...

    def count_events(self) -> int: ...

    def list_events(self, flt: EventFilter, cursor: tuple[dt.datetime, str] | None,
                    limit: int) -> EventPage: ...

    def iter_event_ids(self) -> Iterator[str]: ...

    def hourly_counts(self, source_id: str | None = None) -> pa.Table: ...

    def hourly_counts_from_events(self, source_id: str | None = None) -> pa.Table: ...

    def rebuild_hourly_counts(self, source_id: str | None = None) -> int: ...

    def hourly_totals(self, source_id: str, start: dt.date, end: dt.date
                      ) -> list[tuple[Any, ...]]: ...

    def source_span(self, source_id: str
                    ) -> tuple[int, dt.datetime | None, dt.datetime | None]: ...

    def source_hourly_counts(self, source_id: str) -> tuple[str, pa.Table] | None:
        """Time zone and ``local_date, local_hour, label, event_count`` rows (one per event
        type) of a source; ``None`` for an unknown source."""
        ...

    def source_event_span(self, source_id: str,
                          near_first: tuple[dt.datetime, dt.datetime] | None = None,
                          near_last: tuple[dt.datetime, dt.datetime] | None = None
                          ) -> tuple[dt.datetime | None, dt.datetime | None]:
        """First and last event, looked for in the UTC ranges given (see SqlStore)."""
        ...

    def list_sources(self) -> list[SourceInfo]: ...

    def get_source(self, source_id: str) -> SourceInfo | None: ...

    def source_timezones(self) -> dict[str, str]: ...

    def set_source_timezone(self, source_id: str, timezone: str) -> SourceInfo: ...

    def set_source_area(self, source_id: str, area: str | None) -> SourceInfo:
        """Set (``None``: clear) a source's area; a new source gets the default zone."""
        ...

    def add_api_key(self, key_id: str, key_hash: str, scope: str, name: str | None) -> None: ...

    def find_api_key(self, key_hash: str) -> tuple[str, str] | None: ...

    def count_api_keys(self) -> int: ...

    def list_api_keys(self) -> list[dict[str, Any]]: ...

    def save_upload(self, state: UploadState) -> None: ...

    def get_upload(self, upload_id: str) -> UploadState | None: ...

    def unfinished_uploads(self) -> list[UploadState]: ...

    def list_uploads(self, limit: int, before: tuple[dt.datetime, str] | None = None,
                     status: str | None = None) -> list[UploadState]:
        """Uploads newest first, older than the ``(created_at, upload_id)`` cursor when
        given; each ``report`` holds only its totals (no rejected lines)."""
        ...

    def claim_upload(self, upload_id: str) -> bool:
        """Take an upload for this process; ``False`` if another live process has it."""
        ...

    def release_upload(self, upload_id: str) -> None: ...

    def claim_role(self, role: str) -> bool:
        """Take a role (e.g. the anomaly detector) for this process while it lives;
        ``False`` if another live process holds it."""
        ...

    # -- anomalies (vigil.store.anomalies) --------------------------------------------------
    def save_anomalies(self, items: Sequence[NewAnomaly], now: dt.datetime
                       ) -> list[SavedAnomaly]: ...

    def set_anomaly_status(self, anomaly_id: int, status: str, now: dt.datetime
                           ) -> dict[str, Any] | None: ...

    def save_detector_cursor(self, name: str, ingest_batch: int, now: dt.datetime) -> None: ...

    def list_anomalies(self, flt: AnomalyFilter, limit: int, before_id: int | None = None
                       ) -> list[dict[str, Any]]: ...

    def get_anomaly(self, anomaly_id: int) -> dict[str, Any] | None: ...

    def count_anomalies(self, flt: AnomalyFilter | None = None) -> dict[str, int]:
        """Anomalies per status (of those ``flt`` selects, when given)."""
        ...

    def false_positive_patterns(self) -> dict[tuple[str, str], str]: ...

    def list_false_positive_anomalies(self, source_id: str, pattern_key: str
                                      ) -> list[dict[str, Any]]: ...

    def unlearned_event_anomalies(self) -> list[tuple[str, str, dt.date, int, int]]: ...

    def label_hourly_counts(self, event_types: Sequence[str], since: dt.date | None
                            ) -> list[tuple[str, str, dt.date, int, int]]: ...

    def detector_cursor(self, name: str) -> int | None: ...

    def event_batches_after(self, ingest_batch: int) -> list[tuple[int, int]]: ...

    def events_of_batches(self, first: int, last: int) -> pa.Table: ...

    def newest_event_times(self, up_to_batch: int | None = None
                           ) -> dict[str, dt.datetime]: ...

    def label_hourly_counts_after(self, ingest_batch: int, event_types: Sequence[str]
                                  ) -> list[tuple[str, str, dt.date, int, int]]: ...

    def newest_ingest_batch(self) -> int: ...

    # -- visit sessions (vigil.store.sessions) ----------------------------------------------
    def rebuild_sessions(self, source_id: str | None = None) -> dict[str, int]:
        """Pair the sessions (of one source) again from the event log, in one transaction;
        returns how many there are per status (grouping ``camera``)."""
        ...

    def count_sessions(self) -> dict[str, int]:
        """How many sessions there are per status (grouping ``camera``)."""
        ...

    def read_sessions(self, grouping: GroupBy = "camera", source_id: str | None = None
                      ) -> pa.Table:
        """The stored sessions of a grouping (of one source), sorted."""
        ...

    # -- alert rules and deliveries (vigil.store.alerts) ------------------------------------
    def list_alert_rules(self) -> list[dict[str, Any]]: ...

    def save_alert_rule(self, rule_id: str, definition: dict[str, Any], now: dt.datetime
                        ) -> bool: ...

    def delete_alert_rule(self, rule_id: str) -> bool: ...

    def enqueue_deliveries(self, items: Sequence[NewDelivery], now: dt.datetime
                           ) -> list[int]: ...

    def due_deliveries(self, now: dt.datetime, limit: int) -> list[dict[str, Any]]: ...

    def next_delivery_due(self) -> dt.datetime | None: ...

    def record_delivery(self, outcome: DeliveryOutcome, now: dt.datetime) -> None: ...

    def list_deliveries(self, status: str | None, limit: int, before_id: int | None = None
                        ) -> list[dict[str, Any]]: ...

    def count_deliveries(self) -> dict[str, int]: ...

    def add_dead_letter(self, letter: DeadLetter) -> int: ...

    def list_dead_letters(self, limit: int, before_id: int | None = None
                          ) -> list[DeadLetter]: ...

    def count_dead_letters(self) -> int: ...

    def read_analytics(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run a read-only analytic query (``?`` placeholders) over committed data."""
        ...

    def export_batches(self, sql: str, rows_per_batch: int) -> Iterator[pa.Table]:
        """Stream a query's result in Arrow tables of at most ``rows_per_batch`` rows."""
        ...

    def append_rows(self, table: str, data: pa.Table) -> None:
        """Bulk-append rows (columns named as in the table) as they are."""
        ...

    def after_import(self) -> None:
        """Bring sequences and cached state in line with rows appended by an import."""
        ...

    def close(self) -> None: ...

    # -- aggregate records (vigil.store.aggregate_tables) -----------------------------------
    def write_aggregate_rows(self, rows: Sequence[tuple[str, str, str, dt.date, str]],
                             now: dt.datetime) -> int:
        """Insert or replace ``(layer, detector, entity, bucket, fields JSON)`` rows of
        distinct keys in one transaction; returns how many."""
        ...

    def read_aggregate_rows(self, layer: str, start: dt.date, end: dt.date,
                            detector: str | None = None, entity: str | None = None
                            ) -> list[tuple[str, str, str, dt.date, str]]:
        """The aggregate rows of a layer with buckets from ``start`` to ``end``."""
        ...

    def aggregate_field(self, layer: str, start: dt.date, end: dt.date, field: str,
                        detector: str | None = None, entity: str | None = None
                        ) -> tuple[float | None, int, int]:
        """Sum of a field's numeric values, how many are numeric, how many rows have it."""
        ...

    # -- rollup jobs and their runs ledger (vigil.store.rollup_tables) ----------------------
    def daily_event_totals(self, start: dt.date | None = None, end: dt.date | None = None
                           ) -> list[tuple[dt.date, int]]:
        """``(local_date, events)`` of the local days with hourly counts, by date."""
        ...

    def hourly_count_rows(self, start: dt.date, end: dt.date) -> pa.Table:
        """Every hourly count (all labels, ``*`` included) of local days ``start``-``end``."""
        ...

    def events_of_local_day(self, day: dt.date) -> pa.Table:
        """The raw events of one local day (each source's zone), by time and id, with the
        source's ``timezone`` and ``area`` columns."""
        ...

    def events_of_local_days(self, start: dt.date, end: dt.date) -> pa.Table:
        """The raw events of local days ``start`` to ``end``, as ``events_of_local_day``."""
        ...

    def rollup_runs(self, job: str, start: dt.date | None = None, end: dt.date | None = None
                    ) -> list[tuple[dt.date, int]]:
        """``(period, events_seen)`` of a job's ledger rows, by period."""
        ...

    def record_rollup_runs(self, job: str,
                           runs: Sequence[tuple[dt.date, int, int, dt.datetime, dt.datetime]]
                           ) -> None:
        """Insert or replace ledger rows ``(period, events_seen, rows_written, started_at,
        finished_at)`` of a job, in the caller's transaction when there is one."""
        ...

    # -- retention purge (vigil.store.retention_tables) --------------------------------------
    def oldest_event_day(self) -> dt.date | None:
        """A local date no later than the oldest event's (``None``: no events)."""
        ...

    def oldest_hourly_day(self) -> dt.date | None:
        """The oldest local date with hourly counts (``None``: none)."""
        ...

    def purge_events(self, before: dt.date, keep_days: Sequence[dt.date], limit: int) -> int:
        """Delete up to ``limit`` events of local dates before ``before`` not in
        ``keep_days`` (keeping what session maintenance needs), in one transaction."""
        ...

    def purge_hourly_counts(self, before: dt.date, keep_days: Sequence[dt.date],
                            limit: int) -> int:
        """Delete up to ``limit`` hourly counts of local dates before ``before`` not in
        ``keep_days``, in one transaction."""
        ...

    def purge_aggregate_rows(self, layer: str, before: dt.date, limit: int) -> int:
        """Delete up to ``limit`` aggregate rows of ``layer`` with buckets before
        ``before``, in one transaction."""
        ...

    # -- detected patterns (vigil.store.pattern_tables) --------------------------------------
    def replace_patterns(self, patterns: Sequence[Pattern], window_end: dt.date,
                         now: dt.datetime) -> int:
        """Make one detection's patterns the stored ones, in one transaction (a pattern
        stored before keeps its earlier ``first_seen``; those not found again go)."""
        ...

    def list_patterns(self, type: str | None = None, entity: str | None = None,
                      min_confidence: float | None = None, limit: int | None = None,
                      offset: int = 0) -> list[dict[str, Any]]:
        """The stored patterns matching the filters, most confident first, then by id (at
        most ``limit`` after the first ``offset``)."""
        ...

    def count_patterns(self, type: str | None = None, entity: str | None = None,
                       min_confidence: float | None = None) -> int:
        """How many stored patterns match the filters."""
        ...

    def pattern_facets(self, min_confidence: float | None = None) -> dict[str, dict[str, int]]:
        """Stored patterns (at least this confident) per ``types`` and per ``entities``."""
        ...
