"""``StreamDetector``: all four anomaly types over a stream of committed events (pure).

The service feeds committed events in ingest order, in Arrow chunks, to :meth:`process` and
calls :meth:`advance` with the wall clock; both return :class:`Detection` values (flagged
results only). No clock reads, no I/O.

Event anomalies (``rare_time`` / ``novel_object``) follow :meth:`EventScorer.observe`
exactly (same flags, to the last bit of the score), but vectorised: every (event, label)
pair of a *ready* source is scored against what was learned from the events of earlier
local hours (score before learning; flagged pairs are not learned), while its rank among
the label's events of the same hour raises the surprise. A source's events of one hour
form a run; the last run of each source stays pending until an event of another hour
arrives (also across chunks), so the result does not depend on how the stream is chunked.
Because learning only lowers scores, the flagged set is the fixed point of "flag what
scores >= ``low`` when every earlier unflagged pair is learned", found by a few vectorised
passes. Events of sources that are not ready (fewer than ``ready_min_days`` local days of
span, today included, or fewer than ``ready_min_events`` earlier events) are learned only;
their hours are not judged for volume either. A multi-label event gives one detection,
its worst label.

Volume anomalies (``spike`` / ``silence``) come from one :class:`VolumeScorer` per (source,
label) and a source-wide silence series (label ``None``). Events are counted per local hour;
an hour closes when the source's watermark (its newest event time) passes the hour's end by
``lateness_seconds``, or in :meth:`advance` when the wall clock does so for a live source.
An event whose hour had closed when it arrived (by the watermark of the events before it,
which makes the result independent of chunking) is counted in ``late_events`` and left out
of the volume counts (it is still scored as an event). A gap of more than ``live_seconds``
in a source's data is skipped by :meth:`process` (the source was away, not silent).

The local-time columns must come from the zone given with :meth:`set_timezone` (default UTC).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.anomaly.events import (
    HOURS_PER_WEEK,
    EventScorerConfig,
    batch_rates,
    event_scores,
    explain_event,
    poisson_at_least,
)
from vigil.anomaly.result import AnomalyResult, AnomalyType, Severity
from vigil.anomaly.volume import VolumeConfig, VolumeScorer

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]
Components = dict[str, float | int | bool | str | None]

ALL_LABELS = "*"
US_PER_HOUR = 3_600_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MONDAY = datetime(1970, 1, 5)  # local hour index 0 (naive: local wall clock)
_MONDAY_DAYS = 4  # epoch day of that Monday
_ORDINAL_EPOCH = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class Detection:
    """One flagged anomaly, ready to store (see the module docstring for the fields' rules)."""

    source_id: str
    type: AnomalyType
    label: str | None  # None: all labels of the source (source-wide silence)
    event_id: str | None  # event anomalies; None for volume anomalies
    window_start: datetime  # UTC; event anomalies: the event's ts
    window_end: datetime  # UTC, exclusive; event anomalies: ts too
    local_weekday: int  # local time at the source of window_start (0=Monday)
    local_hour: int
    score: float
    severity: Severity
    explanation: str
    components: Components
    key: str  # the pattern for false-positive memory, e.g. "rare_time:person:how=27"
    run_id: str | None = None  # volume anomalies: one id per (growing) run of hours


@dataclass(frozen=True)
class DetectorConfig:
    """Scorer tunings plus the stream rules of :class:`StreamDetector`."""

    events: EventScorerConfig = field(default_factory=EventScorerConfig)
    volume: VolumeConfig = field(default_factory=VolumeConfig)
    ready_min_days: int = 7
    ready_min_events: int = 50
    event_types: frozenset[str] = frozenset({"detection"})
    lateness_seconds: int = 300
    live_seconds: int = 2 * 86400
    memory_hours: int = 14 * 24  # flagged hours kept for learn_as_normal

    def __post_init__(self) -> None:
        if self.lateness_seconds < 0 or self.live_seconds <= 0 or self.memory_hours < 1:
            raise ValueError("need lateness_seconds >= 0, live_seconds > 0, memory_hours >= 1")


@lru_cache(maxsize=1 << 16)
def hour_start_us(tz: str, index: int) -> int:
    """UTC microseconds at which local hour ``index`` begins in ``tz`` (first if repeated)."""
    local = (_MONDAY + timedelta(hours=index)).replace(tzinfo=ZoneInfo(tz))
    return (local - _EPOCH) // timedelta(microseconds=1)


def local_hour_index(tz: str, utc_us: int) -> int:
    """The local hour index (hours since Monday 1970-01-05 00:00 local) of an instant."""
    local = (_EPOCH + timedelta(microseconds=utc_us)).astimezone(ZoneInfo(tz))
    naive = local.replace(tzinfo=None, minute=0, second=0, microsecond=0)
    return (naive - _MONDAY) // timedelta(hours=1)


def _utc(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    return (moment - _EPOCH) // timedelta(microseconds=1)


class _Source:
    """Stream bookkeeping of one source: zone, watermark, open hours and volume series."""

    __slots__ = ("name", "tz", "watermark", "next_close", "pending", "totals", "series",
                 "total", "run", "ready_from")

    def __init__(self, name: str, config: VolumeConfig) -> None:
        self.name = name
        self.tz = "UTC"
        self.watermark: int | None = None  # newest event time seen, UTC microseconds
        self.next_close: int | None = None  # hours before this local index are closed
        self.pending: dict[int, dict[int, int]] = {}  # open hour -> label code -> count
        self.totals: dict[int, int] = {}  # open hour -> events
        self.series: dict[int, VolumeScorer] = {}
        self.total = VolumeScorer(config, name=f"{name}/all", silence_only=True)
        self.run: tuple[int, Ints, Bools] | None = None  # last hour's items: labels, learned
        self.ready_from: int | None = None  # first local hour judged (the source was ready)


@dataclass(frozen=True)
class _Batch:
    """(event, label) items of a chunk, after the pending items of each source's last hour.

    ``run`` numbers runs of consecutive items of one source in one local hour; items see
    only what earlier runs learned.
    """

    row: Ints  # chunk row; -1 for pending items carried from earlier chunks
    src: Ints
    hidx: Ints
    label: Ints
    run: Ints
    last_run: Bools  # in the last run of its source: stays pending
    virtual: Bools
    learned: Bools  # for pending items: were they learned (not flagged)?
    seen: Ints  # earlier items of the same label in the same run
    run_label: tuple[Ints, Ints]  # segments of (run, label)
    in_run: Ints  # earlier items of the same run
    k_how: Ints
    k_hod: Ints
    pair: Ints
    a_hod: Ints


@dataclass(frozen=True)
class _Chunk:
    """The decoded columns of one chunk (rows of every event type)."""

    source: Ints
    ts: Ints
    day: Ints  # local date as epoch days
    hour: Ints
    selected: Bools
    confidence: Floats
    event_id: pa.Array
    labels: pa.Array

    @property
    def hidx(self) -> Ints:
        index: Ints = (self.day - _MONDAY_DAYS) * 24 + self.hour
        return index


def _stable_order(keys: Ints) -> Ints:
    """``argsort(keys, kind="stable")``, by 16-bit radix passes when the range allows."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    low = int(keys.min())
    span = int(keys.max()) - low
    if span >= 1 << 32:
        return np.argsort(keys, kind="stable").astype(np.int64)
    shifted = keys - low
    order = np.argsort((shifted & 0xFFFF).astype(np.uint16), kind="stable")
    if span >= 1 << 16:
        high = (shifted[order] >> 16).astype(np.uint16)
        order = order[np.argsort(high, kind="stable")]
    return order.astype(np.int64)


def _segments(keys: Ints) -> tuple[Ints, Ints]:
    """A stable order grouping equal keys, and the start of each group in that order."""
    order = _stable_order(keys)
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]]).astype(np.int64)
    return order, starts


def starts_of(flags: Bools) -> Ints:
    """Positions where ``flags`` is set (group starts in a sorted order)."""
    found: Ints = np.flatnonzero(flags).astype(np.int64)
    return found


def _prefix(order: Ints, starts: Ints, weights: Floats) -> Floats:
    """Per element: the sum of ``weights`` of earlier elements with the same key."""
    ws = weights[order]
    before = np.cumsum(ws) - ws
    first = np.zeros(ws.size, dtype=np.int64)
    first[starts] = starts
    first = np.maximum.accumulate(first)
    out = np.empty_like(ws)
    out[order] = before - before[first]
    return out


class StreamDetector:
    """Pure streaming detector of ``rare_time``, ``novel_object``, ``spike`` and ``silence``."""

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config = config or DetectorConfig()
        self.late_events = 0
        self._sources: list[_Source] = []
        self._source_code: dict[str, int] = {}
        self._labels: list[str] = []
        self._label_code: dict[str, int] = {}
        self._how = np.zeros((0, 0, HOURS_PER_WEEK))
        self._hod = np.zeros((0, 0, 24))
        self._tot = np.zeros((0, 0))
        self._act_hod = np.zeros((0, 24))  # source activity (every label, flagged too)
        self._act_tot = np.zeros(0)
        self._first = np.zeros(0, dtype=np.int64)  # first local day (epoch days) per source
        self._last = np.zeros(0, dtype=np.int64)
        self._events = np.zeros(0, dtype=np.int64)  # events seen per source
        self._flagged: dict[tuple[str, str | None, int], int] = {}

    # -- sources, labels, state arrays --------------------------------------------------------

    def set_timezone(self, source_id: str, tz: str) -> None:
        """The IANA zone of ``source_id`` (its local-time columns must use it)."""
        ZoneInfo(tz)
        self._sources[self._source(source_id)].tz = tz

    def _source(self, name: str) -> int:
        code = self._source_code.get(name)
        if code is None:
            code = self._source_code[name] = len(self._sources)
            self._sources.append(_Source(name, self.config.volume))
            self._grow()
        return code

    def _label(self, name: str) -> int:
        code = self._label_code.get(name)
        if code is None:
            code = self._label_code[name] = len(self._labels)
            self._labels.append(name)
            self._grow()
        return code

    def _grow(self) -> None:
        s_cap, l_cap = self._tot.shape
        s_need, l_need = len(self._sources), len(self._labels)
        if s_need <= s_cap and l_need <= l_cap:
            return
        s_new = max(s_cap, s_need if s_need <= s_cap else max(4, 2 * s_need))
        l_new = max(l_cap, l_need if l_need <= l_cap else max(8, 2 * l_need))
        for name in ("_how", "_hod", "_tot"):
            old = getattr(self, name)
            new = np.zeros((s_new, l_new) + old.shape[2:])
            new[:s_cap, :l_cap] = old
            setattr(self, name, new)
        extra = s_new - s_cap
        self._act_hod = np.r_[self._act_hod, np.zeros((extra, 24))]
        self._act_tot = np.r_[self._act_tot, np.zeros(extra)]
        self._first = np.r_[self._first, np.full(extra, np.iinfo(np.int64).max)]
        self._last = np.r_[self._last, np.full(extra, np.iinfo(np.int64).min)]
        self._events = np.r_[self._events, np.zeros(extra, dtype=np.int64)]

    def _codes(self, values: pa.Array, register: bool) -> Ints:
        """Global codes of a string array (dictionary-encoded first)."""
        encoded = pc.dictionary_encode(values)
        lookup = self._source if register else self._label
        table = np.array([lookup(str(v)) for v in encoded.dictionary.to_pylist()],
                         dtype=np.int64)
        indices = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        codes: Ints = table[indices] if table.size else indices
        return codes

    def _span_days(self, code: int) -> int:
        first, last = int(self._first[code]), int(self._last[code])
        return 0 if last < first else last - first + 1

    def _ready(self, code: int) -> bool:
        cfg = self.config
        return (self._span_days(code) >= cfg.ready_min_days
                and int(self._events[code]) >= cfg.ready_min_events)

    # -- priming ------------------------------------------------------------------------------

    def prime(self, rows: Iterable[tuple[str, str, date, int, int]], *,
              last_event: Mapping[str, datetime] | None = None) -> None:
        """Learn stored hourly counts ``(source_id, label, local_date, local_hour, count)``.

        Label rows teach the event scorer and the per-label volume series (each from the
        label's first hour, missing hours as zero); the all-labels rows (label ``"*"``) give
        the source-wide series and the event count (without them, the sum of label rows).
        Hours that ``last_event[source]`` (the newest event, the watermark to resume from)
        has closed are learned; later hours stay open and new events add to them. Without
        ``last_event`` every primed hour counts as closed. Call before :meth:`process`.
        """
        per_source: dict[int, list[tuple[int, int, int]]] = {}
        for source, label, local_date, hour, count in rows:
            day = (local_date if isinstance(local_date, date)
                   else date.fromisoformat(str(local_date))).toordinal() - _ORDINAL_EPOCH
            code = self._source(source)
            lab = -1 if label == ALL_LABELS else self._label(label)
            per_source.setdefault(code, []).append(
                (lab, (day - _MONDAY_DAYS) * 24 + int(hour), int(count)))
        marks = last_event or {}
        for code, items in per_source.items():
            self._prime_source(code, np.array(items, dtype=np.int64).reshape(-1, 3),
                               marks.get(self._sources[code].name))

    def _prime_source(self, code: int, items: Ints, newest: datetime | None) -> None:
        src = self._sources[code]
        labels, hidx, counts = items[:, 0], items[:, 1], items[:, 2]
        days = hidx // 24 + _MONDAY_DAYS
        self._first[code] = min(int(self._first[code]), int(days.min()))
        self._last[code] = max(int(self._last[code]), int(days.max()))
        is_label = labels >= 0
        starred = ~is_label
        self._events[code] += int(counts[starred].sum() if starred.any()
                                  else counts[is_label].sum())
        lab, hi, cnt = labels[is_label], hidx[is_label], counts[is_label].astype(float)
        np.add.at(self._how[code], (lab, hi % HOURS_PER_WEEK), cnt)
        np.add.at(self._hod[code], (lab, hi % 24), cnt)
        np.add.at(self._tot[code], lab, cnt)
        np.add.at(self._act_hod[code], hi % 24, cnt)
        self._act_tot[code] += cnt.sum()
        if self._ready(code) and src.ready_from is None:
            src.ready_from = int(hidx.max()) + 1
        if newest is None:
            closed = int(hidx.max())
        else:
            src.watermark = max(src.watermark or _us(newest), _us(newest))
            closed = self._closable(src, src.watermark)
        if src.next_close is not None:
            closed = max(closed, src.next_close - 1)
        self._prime_volume(src, labels, hidx, counts, closed)

    def _prime_volume(self, src: _Source, labels: Ints, hidx: Ints, counts: Ints,
                      closed: int) -> None:
        """Learn the closed hours of every series; keep the open ones as pending counts."""
        open_ = hidx > closed
        starred = labels < 0
        whole = starred if starred.any() else ~starred  # rows that make the source total
        for h, c in zip(hidx[whole & open_].tolist(), counts[whole & open_].tolist(),
                        strict=True):
            src.totals[h] = src.totals.get(h, 0) + c
        for lab, h, c in zip(labels[~starred & open_].tolist(), hidx[~starred & open_].tolist(),
                             counts[~starred & open_].tolist(), strict=True):
            hour = src.pending.setdefault(h, {})
            hour[lab] = hour.get(lab, 0) + c
        if closed >= int(hidx.min()):
            src.total.learn_range(int(hidx.min()), closed, hidx[whole & ~open_],
                                  counts[whole & ~open_])
        for lab in np.unique(labels[~starred]).tolist():
            mine = labels == lab
            scorer = src.series.get(lab)
            if scorer is None:
                scorer = src.series[lab] = VolumeScorer(
                    self.config.volume, name=f"{src.name}/{self._labels[lab]}")
            start = int(hidx[mine].min())
            if closed >= start:
                scorer.learn_range(start, closed, hidx[mine & ~open_], counts[mine & ~open_])
        if src.next_close is None or closed + 1 > src.next_close:
            src.next_close = closed + 1

    # -- processing ---------------------------------------------------------------------------

    def process(self, events: pa.Table) -> list[Detection]:
        """Score a chunk of committed events (ingest order); close the hours it completes."""
        if events.num_rows == 0:
            return []
        chunk = self._decode(events)
        late = self._lateness(chunk)
        detections = self._score_events(chunk)
        counted = chunk.selected & ~late
        self.late_events += int((chunk.selected & late).sum())
        self._count_volume(chunk, counted)
        for code in np.unique(chunk.source).tolist():
            src = self._sources[code]
            if src.watermark is not None and src.next_close is not None:
                last = self._closable(src, src.watermark)
                detections.extend(self._close_through(code, last, skip_gaps=True))
        return detections

    def advance(self, now: datetime) -> list[Detection]:
        """Close hours up to ``now`` minus the lateness for sources live at ``now``.

        A live source's newest event is at most ``live_seconds`` old; its hours close with
        the counts seen (zero if none), so a source that stops sending becomes a silence.
        """
        now_us = _us(now)
        live_after = now_us - self.config.live_seconds * 1_000_000
        detections: list[Detection] = []
        for code, src in enumerate(self._sources):
            if src.watermark is None or src.watermark < live_after or src.next_close is None:
                continue
            detections.extend(self._close_through(code, self._closable(src, now_us), False))
        return detections

    def _closable(self, src: _Source, until_us: int) -> int:
        """The last local hour whose end plus the lateness is at or before ``until_us``."""
        limit = until_us - self.config.lateness_seconds * 1_000_000
        return local_hour_index(src.tz, limit) - 1

    def _decode(self, events: pa.Table) -> _Chunk:
        source = self._codes(events.column("source_id").combine_chunks(), register=True)
        ts = events.column("ts").combine_chunks().cast(pa.timestamp("us", tz="UTC"))
        day = events.column("local_date").combine_chunks().cast(pa.date32()).cast(pa.int32())
        types = pa.array(sorted(self.config.event_types), pa.string())
        selected = pc.is_in(events.column("event_type").combine_chunks(), value_set=types)
        confidence = pc.fill_null(events.column("confidence").combine_chunks().cast(
            pa.float64()), 1.0)
        return _Chunk(
            source=source,
            ts=ts.cast(pa.int64()).to_numpy().astype(np.int64),
            day=day.to_numpy().astype(np.int64),
            hour=events.column("local_hour").combine_chunks().to_numpy().astype(np.int64),
            selected=selected.to_numpy(zero_copy_only=False).astype(bool),
            confidence=np.clip(confidence.to_numpy(), 0.0, 1.0),
            event_id=events.column("event_id").combine_chunks(),
            labels=events.column("labels").combine_chunks(),
        )

    # -- lateness -------------------------------------------------------------------------------

    def _lateness(self, chunk: _Chunk) -> Bools:
        """Rows whose hour had closed when they arrived; advances the watermarks."""
        order, starts = _segments(chunk.source)
        prior = np.empty(chunk.ts.size, dtype=np.int64)
        bounds = np.r_[starts, order.size]
        floor = np.iinfo(np.int64).min
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            rows = order[a:b]
            src = self._sources[int(chunk.source[rows[0]])]
            start = floor if src.watermark is None else src.watermark
            running = np.maximum.accumulate(np.maximum(chunk.ts[rows], start))
            prior[rows] = np.r_[start, running[:-1]]
            src.watermark = int(running[-1])
        hidx = chunk.hidx
        keys = chunk.source * (1 << 40) + (hidx - int(hidx.min()))
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        ends = np.empty(unique.size, dtype=np.int64)
        closed = np.empty(unique.size, dtype=bool)
        lateness = self.config.lateness_seconds * 1_000_000
        for i, row in enumerate(first.tolist()):
            src = self._sources[int(chunk.source[row])]
            h = int(hidx[row])
            ends[i] = hour_start_us(src.tz, h + 1) + lateness
            closed[i] = src.next_close is not None and h < src.next_close
        late: Bools = (ends[inverse] <= prior) | closed[inverse]
        return late

    # -- event scoring --------------------------------------------------------------------------

    def _score_events(self, chunk: _Chunk) -> list[Detection]:
        rows = np.flatnonzero(chunk.selected)
        if rows.size == 0:
            return []
        ready, weeks = self._event_rows(chunk, rows)
        items = self._items(chunk)
        if items is None:
            return []
        batch = self._batch(chunk, *items)
        cfg = self.config.events
        flagged, score, rate, n_tot = self._fixed_point(batch, ready, weeks, chunk.confidence)
        learned = np.where(batch.virtual, batch.learned, ~flagged | cfg.learn_from_anomalies)
        self._commit(batch, learned)
        real = ~batch.virtual
        return self._event_detections(
            chunk, batch.row[real], batch.label[real], flagged[real], score[real], rate[real],
            n_tot[real], weeks[batch.row[real]], batch.seen[real])

    def _batch(self, chunk: _Chunk, row: Ints, label: Ints) -> _Batch:
        """The chunk's items after each source's pending same-hour items, with their runs."""
        src, hidx = chunk.source[row], chunk.hidx[row]
        v_src, v_hidx, v_label, v_learned = [], [], [], []
        for code in np.unique(src).tolist():
            pending = self._sources[code].run
            if pending is not None:
                v_src.append(np.full(pending[1].size, code, dtype=np.int64))
                v_hidx.append(np.full(pending[1].size, pending[0], dtype=np.int64))
                v_label.append(pending[1])
                v_learned.append(pending[2])
        n_virtual = sum(a.size for a in v_src)
        cat = np.concatenate
        all_src = cat([*v_src, src])
        all_hidx = cat([*v_hidx, hidx])
        all_label = cat([*v_label, label])
        order, starts = _segments(all_src)
        h_sorted = all_hidx[order]
        new_run = np.ones(order.size, dtype=bool)
        new_run[1:] = h_sorted[1:] != h_sorted[:-1]
        new_run[starts] = True
        run = np.empty(order.size, dtype=np.int64)
        run[order] = np.cumsum(new_run) - 1
        ends = np.r_[starts[1:], order.size] - 1
        last_run = np.isin(run, run[order[ends]])
        l_cap = self._tot.shape[1]
        pair = all_src * l_cap + all_label
        slot, hour = all_hidx % HOURS_PER_WEEK, all_hidx % 24
        virtual = np.zeros(all_src.size, dtype=bool)
        virtual[:n_virtual] = True
        learned = np.zeros(all_src.size, dtype=bool)
        if n_virtual:
            learned[:n_virtual] = cat(v_learned)
        run_label = _segments(run * l_cap + all_label)
        ones = np.ones(all_src.size)
        seen = _prefix(*run_label, ones)
        return _Batch(
            row=np.r_[np.full(n_virtual, -1, dtype=np.int64), row], src=all_src,
            hidx=all_hidx, label=all_label, run=run, last_run=last_run, virtual=virtual,
            learned=learned, seen=seen.astype(np.int64), run_label=run_label,
            in_run=_prefix(order, starts_of(new_run), ones).astype(np.int64),
            k_how=pair * HOURS_PER_WEEK + slot, k_hod=pair * 24 + hour, pair=pair,
            a_hod=all_src * 24 + hour)

    def _commit(self, batch: _Batch, learned: Bools) -> None:
        """Learn the items of finished runs; keep each source's last run pending."""
        done = ~batch.last_run
        take = done & learned
        np.add.at(self._how.reshape(-1), batch.k_how[take], 1.0)
        np.add.at(self._hod.reshape(-1), batch.k_hod[take], 1.0)
        np.add.at(self._tot.reshape(-1), batch.pair[take], 1.0)
        np.add.at(self._act_hod.reshape(-1), batch.a_hod[done], 1.0)
        np.add.at(self._act_tot, batch.src[done], 1.0)
        for code in np.unique(batch.src).tolist():
            mine = batch.last_run & (batch.src == code)
            self._sources[code].run = (int(batch.hidx[mine][0]), batch.label[mine],
                                       learned[mine])

    def _event_rows(self, chunk: _Chunk, rows: Ints) -> tuple[Bools, Floats]:
        """Per chunk row: is its source ready, and weeks observed (span through its day)."""
        n = chunk.ts.size
        ready = np.zeros(n, dtype=bool)
        weeks = np.zeros(n)
        order, starts = _segments(chunk.source[rows])
        bounds = np.r_[starts, order.size]
        cfg = self.config
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            mine = rows[order[a:b]]
            code = int(chunk.source[mine[0]])
            days = chunk.day[mine]
            first = np.minimum.accumulate(np.minimum(days, self._first[code]))
            last = np.maximum.accumulate(np.maximum(days, self._last[code]))
            span = last - first + 1
            before = self._events[code] + np.arange(mine.size)
            ready[mine] = (span >= cfg.ready_min_days) & (before >= cfg.ready_min_events)
            weeks[mine] = span / 7.0
            src = self._sources[code]
            if src.ready_from is None and ready[mine].any():
                src.ready_from = int(chunk.hidx[mine[ready[mine]][0]])
            self._first[code], self._last[code] = int(first[-1]), int(last[-1])
            self._events[code] += mine.size
        return ready, weeks

    def _items(self, chunk: _Chunk) -> tuple[Ints, Ints] | None:
        """(row, label code) of every label of every selected row, in chunk order."""
        labels = chunk.labels
        flat = pc.list_flatten(labels)
        if len(flat) == 0:
            return None
        parents = pc.list_parent_indices(labels).to_numpy().astype(np.int64)
        keep = chunk.selected[parents] & pc.is_valid(flat).to_numpy(zero_copy_only=False)
        if not keep.any():
            return None
        codes = self._codes(flat.filter(pa.array(keep)), register=False)
        return parents[keep], codes

    def _fixed_point(self, batch: _Batch, ready: Bools, weeks: Floats, confidence: Floats
                     ) -> tuple[Bools, Floats, Floats, Floats]:
        """Flags of sequential score-before-learn, by iterating to the fixed point.

        Each item sees the learned items of earlier runs (this chunk's and the state's),
        never those of its own run; pending (virtual) items are counted, never scored.
        """
        cfg = self.config.events
        real = ~batch.virtual
        rows = np.where(real, batch.row, 0)
        item_ready = ready[rows] & real
        item_weeks = weeks[rows]
        ones = np.ones(batch.src.size)
        in_run = batch.in_run.astype(np.float64)  # earlier items of the run, any label
        a_hod = (self._act_hod.reshape(-1)[batch.a_hod]
                 + _prefix(*_segments(batch.a_hod), ones) - in_run)
        a_tot = self._act_tot[batch.src] + _prefix(*_segments(batch.src), ones) - in_run
        bases = (self._how.reshape(-1)[batch.k_how], self._hod.reshape(-1)[batch.k_hod],
                 self._tot.reshape(-1)[batch.pair])
        prefixes = [_RunPrefix(key, batch) for key in (batch.k_how, batch.k_hod, batch.pair)]
        factor = np.minimum(1.0, item_weeks / cfg.warmup_weeks)
        factor *= np.minimum(1.0, confidence[rows] / cfg.confidence_full)
        rank = batch.seen + 1
        flagged = np.zeros(batch.src.size, dtype=bool)
        while True:
            learned = np.where(batch.virtual, batch.learned,
                               ~flagged | cfg.learn_from_anomalies).astype(np.float64)
            n_how, n_hod, n_tot = (base + prefix(learned)
                                   for base, prefix in zip(bases, prefixes, strict=True))
            rate = batch_rates(cfg, n_how, n_hod, n_tot, a_hod, a_tot, item_weeks)
            score = event_scores(cfg, rank, rate, n_tot == 0, factor)
            now = item_ready & (score >= cfg.thresholds.low)
            if np.array_equal(now, flagged):
                return flagged, score, rate, n_tot
            flagged = now | flagged

    def _event_detections(self, chunk: _Chunk, row: Ints, label: Ints, flagged: Bools,
                          score: Floats, rate: Floats, n_tot: Floats, weeks: Floats,
                          seen: Ints) -> list[Detection]:
        hits = np.flatnonzero(flagged)
        if hits.size == 0:
            return []
        order = hits[np.lexsort((-score[hits], row[hits]))]
        worst = order[np.r_[True, row[order][1:] != row[order][:-1]]]
        cfg = self.config.events
        out = []
        for i in worst.tolist():
            r = int(row[i])
            src = self._sources[int(chunk.source[r])]
            lab = self._labels[int(label[i])]
            h = int(chunk.hidx[r])
            weekday, hour = (h // 24) % 7, h % 24
            novel = bool(n_tot[i] == 0)
            kind: AnomalyType = "novel_object" if novel else "rare_time"
            s = float(score[i])
            severity = cfg.thresholds.classify(s)
            assert severity is not None
            at = _utc(int(chunk.ts[r]))
            w = float(weeks[i])
            rank = np.array([min(int(seen[i]) + 1, cfg.hour_count_cap)], dtype=np.int64)
            tail = float(poisson_at_least(rank, rate[i:i + 1])[0])
            out.append(Detection(
                source_id=src.name, type=kind, label=lab,
                event_id=str(chunk.event_id[r].as_py()), window_start=at, window_end=at,
                local_weekday=weekday, local_hour=hour, score=s, severity=severity,
                explanation=explain_event(src.name, lab, weekday, hour, float(rate[i]),
                                          novel, w),
                components={"source": src.name, "label": lab, "weekday": weekday,
                            "hour": hour, "rate_per_week": float(rate[i]), "novel": novel,
                            "confidence": float(chunk.confidence[r]), "weeks_observed": w,
                            "evidence": min(1.0, w / cfg.warmup_weeks),
                            "seen_in_hour": int(seen[i]), "p_value": tail},
                key=(f"novel_object:{lab}" if novel
                     else f"rare_time:{lab}:how={h % HOURS_PER_WEEK}"),
            ))
        return out

    # -- volume ---------------------------------------------------------------------------------

    def _count_volume(self, chunk: _Chunk, counted: Bools) -> None:
        """Add the counted rows to their open hours (events per hour and per label)."""
        rows = np.flatnonzero(counted)
        if rows.size == 0:
            return
        hidx = chunk.hidx
        for code, h, n in _tally(chunk.source[rows], hidx[rows]):
            src = self._sources[code]
            src.totals[h] = src.totals.get(h, 0) + n
            if src.next_close is None:  # a new source: its stream starts at its first hour
                src.next_close = int(hidx[rows][chunk.source[rows] == code].min())
        items = self._items(chunk)
        if items is None:
            return
        row, label = items
        keep = counted[row]
        l_cap = self._tot.shape[1]
        for pair, h, n in _tally(chunk.source[row[keep]] * l_cap + label[keep],
                                 hidx[row[keep]]):
            hour = self._sources[pair // l_cap].pending.setdefault(h, {})
            hour[pair % l_cap] = hour.get(pair % l_cap, 0) + n

    def _close_through(self, code: int, last: int, skip_gaps: bool) -> list[Detection]:
        """Close the source's hours up to local hour ``last`` and score them."""
        src = self._sources[code]
        out: list[Detection] = []
        if src.next_close is None:
            return out
        h: int = src.next_close
        live_hours = self.config.live_seconds // 3600
        while h <= last:
            if skip_gaps and h not in src.totals:
                nxt = min((k for k in src.totals if k > h), default=last + 1)
                if min(nxt, last + 1) - h > live_hours:
                    h = min(nxt, last + 1)
                    for scorer in [src.total, *src.series.values()]:
                        scorer.restart()
                    continue
            out.extend(self._close_hour(code, src, h))
            h += 1
        src.next_close = h
        self._forget(src, h)
        return out

    def _close_hour(self, code: int, src: _Source, h: int) -> list[Detection]:
        counts = src.pending.pop(h, {})
        total = src.totals.pop(h, 0)
        for code_ in counts:
            if code_ not in src.series:
                src.series[code_] = VolumeScorer(self.config.volume,
                                                 name=f"{src.name}/{self._labels[code_]}")
        ready = src.ready_from is not None and h >= src.ready_from
        out = []
        series: list[tuple[int | None, VolumeScorer, int]] = [
            (lab, scorer, counts.get(lab, 0)) for lab, scorer in src.series.items()]
        series.append((None, src.total, total))
        for lab, scorer, count in series:
            if not ready:
                scorer.absorb(h, count)
                continue
            for result in scorer.observe_flagged(h, count):
                label = None if lab is None else self._labels[lab]
                out.append(self._volume_detection(src, label, result))
        return out

    def _volume_detection(self, src: _Source, label: str | None,
                          result: AnomalyResult) -> Detection:
        comp = result.components
        h, run = int(comp["hour_index"] or 0), int(comp["run_hours"] or 1)
        count = int(comp["count"] or 0)
        start = h - run + 1 if result.type == "silence" else h
        self._flagged[(src.name, label, h)] = count
        severity = result.severity
        assert severity is not None
        name = label or ALL_LABELS
        return Detection(
            source_id=src.name, type=result.type, label=label, event_id=None,
            window_start=_utc(hour_start_us(src.tz, start)),
            window_end=_utc(hour_start_us(src.tz, h + 1)),
            local_weekday=(start // 24) % 7, local_hour=start % 24, score=result.score,
            severity=severity, explanation=result.explanation, components=dict(comp),
            key=f"{result.type}:{name}:how={start % HOURS_PER_WEEK}",
            run_id=f"{src.name}/{name}/{start}",
        )

    def _forget(self, src: _Source, h: int) -> None:
        if len(self._flagged) < 4096:
            return
        horizon = h - self.config.memory_hours
        for key in [k for k in self._flagged if k[0] == src.name and k[2] < horizon]:
            del self._flagged[key]

    # -- feedback -----------------------------------------------------------------------------

    def learn_as_normal(self, detection: Detection) -> None:
        """Teach the baseline that ``detection`` is normal (a user marked a false positive).

        Event anomalies: the label is learned in the event's hour-of-week slot often enough
        that a full-confidence event of it there scores below ``low``. Volume anomalies: the
        flagged hours are learned with their counts (repeated, at most 20 times, until the
        same hours would not be flagged any more).
        """
        code = self._source(detection.source_id)
        if detection.type in ("rare_time", "novel_object"):
            self._learn_event(code, self._label(detection.label or ALL_LABELS),
                              detection.local_weekday * 24 + detection.local_hour)
            return
        src = self._sources[code]
        comp = detection.components
        last = int(comp.get("hour_index") or 0)
        run = int(comp.get("run_hours") or 1) if detection.type == "silence" else 1
        hours = [(h, self._flagged.pop((src.name, detection.label, h),
                                        int(comp.get("count") or 0) if h == last else 0))
                 for h in range(last - run + 1, last + 1)]
        if detection.label is None:
            scorer = src.total
        else:
            lab = self._label(detection.label)
            scorer = src.series.get(lab) or src.series.setdefault(
                lab, VolumeScorer(self.config.volume, name=f"{src.name}/{detection.label}"))
        for _ in range(20):
            for h, count in hours:
                scorer.learn(h, count)
            if not scorer.would_flag(detection.type, hours):
                break

    def _learn_event(self, code: int, lab: int, slot: int) -> None:
        """Add the fewest events of ``lab`` in ``slot`` that bring a sure event there
        below ``low`` (at least one)."""
        cfg = self.config.events
        weeks = self._span_days(code) / 7.0
        evidence = min(1.0, weeks / cfg.warmup_weeks)
        need = math.log(evidence / cfg.thresholds.low) if evidence > cfg.thresholds.low else 0.0
        hour = slot % 24
        extra = np.arange(1, 1 << 14, dtype=np.float64)
        rates = batch_rates(cfg, self._how[code, lab, slot] + extra,
                            self._hod[code, lab, hour] + extra, self._tot[code, lab] + extra,
                            self._act_hod[code, hour] + extra, self._act_tot[code] + extra,
                            np.full(extra.size, weeks))
        enough = np.flatnonzero(rates > need)
        add = float(extra[enough[0]] if enough.size else extra[-1])
        self._how[code, lab, slot] += add
        self._hod[code, lab, hour] += add
        self._tot[code, lab] += add
        self._act_hod[code, hour] += add
        self._act_tot[code] += add


class _RunPrefix:
    """Per item: the sum of weights of earlier items with the same label key in *other*
    runs (within a run only the label varies, so the run's part is a (run, label) prefix)."""

    def __init__(self, keys: Ints, batch: _Batch) -> None:
        self._all = _segments(keys)
        self._run = batch.run_label

    def __call__(self, weights: Floats) -> Floats:
        return _prefix(*self._all, weights) - _prefix(*self._run, weights)


def _tally(first: Ints, second: Ints) -> list[tuple[int, int, int]]:
    """Distinct ``(first, second)`` pairs with how often each occurs."""
    lo = int(second.min())
    keys = first * (1 << 40) + (second - lo)
    unique, counts = np.unique(keys, return_counts=True)
    return [(int(k >> 40), int((k & ((1 << 40) - 1)) + lo), int(n))
            for k, n in zip(unique.tolist(), counts.tolist(), strict=True)]
