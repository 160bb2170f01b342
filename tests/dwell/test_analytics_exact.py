"""Every analytic figure equals a brute-force computation on random event sets.

The event sets mix all the hard cases (two entries in a row, orphan exits, open and timed-out
entries, duplicates, out-of-order rows, ties, sessions over local midnight and over the
Europe/Berlin DST change of 2024-03-31) with attributes that differ per event.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dwell import reference as ref
from dwell.test_pairing import reference as pair_reference
from vigil.dwell.analytics import DwellAnalytics
from vigil.dwell.filters import AnalyticsFilter
from vigil.dwell.occupancy import occupancy
from vigil.dwell.reader import ArrowReader
from vigil.dwell.records import all_session_records
from vigil.store.arrowderive import local_time_columns

T0 = datetime(2024, 3, 30, 20, 0, tzinfo=UTC)  # Berlin springs forward 2024-03-31 01:00 UTC
ZONES = {"cam1": "Europe/Berlin", "cam2": "America/New_York"}
ATTRIBUTES = [None, {"age_group": "a"}, {"age_group": "b"}, {"age_group": "a", "gender": "f"}]
DIMENSIONS = [(), ("camera",), ("person",), ("hour",), ("weekday",), ("day",), ("week",),
              ("month",), ("attributes.age_group",), ("zone",), ("camera", "day")]
EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("source_id", pa.string()), ("event_type", pa.string()),
    ("ts", pa.timestamp("us", tz="UTC")), ("subject_id", pa.string()), ("zone", pa.string()),
    ("attributes", pa.string()),
])


@st.composite
def event_sets(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(1, 45))
    events = []
    for i in range(n):
        minutes = draw(st.integers(0, 72)) * 30 + draw(st.sampled_from([0, 0, 7, 0.5, 0.001]))
        attributes = draw(st.sampled_from(ATTRIBUTES))
        events.append({
            "event_id": f"e{i:03d}",
            "source_id": draw(st.sampled_from(sorted(ZONES))),
            "event_type": draw(st.sampled_from(["entry", "exit", "entry", "exit", "motion"])),
            "ts": T0 + timedelta(minutes=minutes),
            "subject_id": draw(st.sampled_from(["p1", "p2", "p3"])),
            "zone": draw(st.sampled_from([None, "a", "b"])),
            "attributes": json.dumps(attributes) if attributes else None,
        })
    copies = draw(st.lists(st.sampled_from(events), max_size=4))
    return draw(st.permutations(events + copies))  # type: ignore[no-any-return]


@st.composite
def filters(draw: st.DrawFn) -> AnalyticsFilter:
    kind = draw(st.sampled_from(["none", "dates", "instants", "camera", "person", "attr",
                                 "zone", "by_zone"]))
    if kind == "dates":
        first = date(2024, 3, 30) + timedelta(days=draw(st.integers(0, 2)))
        return AnalyticsFilter(start_date=first,
                               end_date=first + timedelta(days=draw(st.integers(0, 1))))
    if kind == "instants":
        start = T0 + timedelta(hours=draw(st.integers(0, 30)))
        return AnalyticsFilter(start=start, end=start + timedelta(hours=draw(st.integers(1, 20))))
    if kind == "camera":
        return AnalyticsFilter(cameras=(draw(st.sampled_from(sorted(ZONES))),))
    if kind == "person":
        return AnalyticsFilter(person=draw(st.sampled_from(["p1", "p2"])))
    if kind == "attr":
        return AnalyticsFilter(attributes={"age_group": draw(st.sampled_from(["a", "b"]))})
    if kind == "zone":
        return AnalyticsFilter(zone=draw(st.sampled_from(["", "a"])))
    return AnalyticsFilter(by="zone") if kind == "by_zone" else AnalyticsFilter()


def engine(events: list[dict[str, Any]], max_session: timedelta) -> DwellAnalytics:
    """The analytics under test over the events, paired and derived as the store does."""
    table = pa.Table.from_pylist(events, schema=EVENT_SCHEMA)
    for name, column in local_time_columns(table, ZONES).items():
        table = table.append_column(name, column)
    data_end = max(e["ts"] for e in events)
    sessions = all_session_records(table, data_end, max_session)
    return DwellAnalytics(ArrowReader(table, sessions), ZONES)


def reference_sessions(events: list[dict[str, Any]], flt: AnalyticsFilter,
                       max_session: timedelta) -> list[dict[str, Any]]:
    """Brute-force sessions of the filter's grouping, with anchor attributes; unfiltered."""
    from dwell.test_pairing import Ev

    evs = [Ev(e["event_id"], e["event_type"], e["ts"], e["subject_id"], e["source_id"],
              e["zone"]) for e in events]
    attributes = {(e["event_id"], e["ts"]): e["attributes"] for e in events}
    data_end = max(e["ts"] for e in events)
    out = pair_reference(evs, flt.by, max_session, data_end)
    for s in out:
        anchor_id = s["entry_event_id"] or s["exit_event_id"]
        anchor_ts = s["entry_ts"] or s["exit_ts"]
        s["attributes"] = attributes[(anchor_id, anchor_ts)]
    return out


def matches(s: dict[str, Any], flt: AnalyticsFilter, with_time: bool = True) -> bool:
    """Whether a reference session passes the filter."""
    anchor = s["entry_ts"] or s["exit_ts"]
    day = ref.local_date(anchor, ZONES[s["source_id"]])
    attributes = json.loads(s["attributes"]) if s["attributes"] else {}
    checks = [
        not flt.cameras or s["source_id"] in flt.cameras,
        flt.zone is None or s["zone"] == flt.zone,
        flt.person is None or s["subject_id"] == flt.person,
        all(attributes.get(k) == v for k, v in flt.attributes.items()),
    ]
    if with_time:
        checks += [
            flt.start_date is None or day >= flt.start_date,
            flt.end_date is None or day <= flt.end_date,
            flt.start is None or anchor >= flt.start,
            flt.end is None or anchor < flt.end,
        ]
    return all(checks)


def event_matches(e: dict[str, Any], flt: AnalyticsFilter) -> bool:
    day = ref.local_date(e["ts"], ZONES[e["source_id"]])
    attributes = json.loads(e["attributes"]) if e["attributes"] else {}
    return all([
        not flt.cameras or e["source_id"] in flt.cameras,
        flt.zone is None or (e["zone"] or "") == flt.zone,
        flt.person is None or e["subject_id"] == flt.person,
        all(attributes.get(k) == v for k, v in flt.attributes.items()),
        flt.start_date is None or day >= flt.start_date,
        flt.end_date is None or day <= flt.end_date,
        flt.start is None or e["ts"] >= flt.start,
        flt.end is None or e["ts"] < flt.end,
    ])


def unique_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[tuple[str, datetime], dict[str, Any]] = {}
    for e in events:
        seen.setdefault((e["event_id"], e["ts"]), e)
    return list(seen.values())


def close(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None
                                         and a == pytest.approx(b, rel=1e-9, abs=1e-6))


CASES = settings(max_examples=60, deadline=None,
                 suppress_health_check=[HealthCheck.too_slow])
MAX_SESSIONS = st.sampled_from([timedelta(minutes=45), timedelta(hours=4)])


@CASES
@given(event_sets(), filters(), MAX_SESSIONS)
def test_kpis_equal_brute_force(events: list[dict[str, Any]], flt: AnalyticsFilter,
                                max_session: timedelta) -> None:
    events = unique_events(events)
    got = engine(events, max_session).kpis(flt)["kpis"]
    chosen = [s for s in reference_sessions(events, flt, max_session) if matches(s, flt)]
    want = ref.stats(chosen)
    persons_complete = {s["subject_id"] for s in chosen if s["status"] == "complete"}
    assert got["sessions"] == {status: want[status] for status in ref.STATUSES}
    assert got["unique_visitors"] == want["persons"]
    assert got["cameras_with_activity"] == len({s["source_id"] for s in chosen})
    assert got["complete_sessions"] == want["complete"]
    assert got["incomplete_sessions"] == len(chosen) - want["complete"]
    assert close(got["mean_dwell_ms"], want["mean_ms"])
    assert close(got["median_dwell_ms"], want["median_ms"])
    assert got["max_dwell_ms"] == want["max_ms"]
    assert got["total_dwell_ms"] == want["total_ms"]
    assert close(got["average_dwell_per_person_ms"],
                 want["total_ms"] / len(persons_complete) if persons_complete else None)
    assert got["events_processed"] == sum(1 for e in events if event_matches(e, flt))


@CASES
@given(event_sets(), filters(), MAX_SESSIONS, st.sampled_from(DIMENSIONS))
def test_dwell_statistics_per_group_equal_brute_force(
        events: list[dict[str, Any]], flt: AnalyticsFilter, max_session: timedelta,
        dims: tuple[str, ...]) -> None:
    events = unique_events(events)
    result = engine(events, max_session).dwell(flt, dims)
    if "zone" in dims:
        flt = AnalyticsFilter(**{**flt.__dict__, "by": "zone"})
    chosen = [s for s in reference_sessions(events, flt, max_session) if matches(s, flt)]
    want = {key: ref.stats(group) for key, group in ref.grouped(chosen, dims, ZONES).items()}
    if not dims:  # the overall row is there even when nothing matches
        want = {(): ref.stats(chosen)}
    got = {tuple(row[d] for d in dims): row for row in result["rows"]}
    assert set(got) == set(want)
    assert result["total_groups"] == len(want)
    beyond = engine(events, max_session).dwell(flt, dims, limit=5, offset=len(want) + 1)
    assert beyond["rows"] == [] and beyond["total_groups"] == len(want)
    for key, expected in want.items():
        row = got[key]
        for name in ("complete", "open", "timed_out", "orphan_exit", "persons", "max_ms",
                     "total_ms"):
            assert row[name] == expected[name], (key, name)
        for name in ("mean_ms", "median_ms", "p90_ms"):
            assert close(row[name], expected[name]), (key, name)


@CASES
@given(event_sets(), filters(), MAX_SESSIONS, st.sampled_from(["day", "week", "month"]),
       st.sampled_from([(), ("camera",), ("attributes.age_group",)]))
def test_visitors_equal_brute_force(events: list[dict[str, Any]], flt: AnalyticsFilter,
                                    max_session: timedelta, period: str,
                                    dims: tuple[str, ...]) -> None:
    events = unique_events(events)
    result = engine(events, max_session).visitors(flt, period, dims)
    sessions = reference_sessions(events, flt, max_session)
    chosen = [s for s in sessions if matches(s, flt)]
    all_time = [s for s in sessions if matches(s, flt, with_time=False)]
    want = ref.visitors(chosen, all_time, period, dims, ZONES)
    got_periods = {(row["period"], *(row[d] for d in dims)):
                   (row["visitors"], row["new_visitors"], row["returning_visitors"])
                   for row in result["periods"]}
    assert got_periods == want["periods"]
    got_frequency = {(*(row[d] for d in dims), row["visit_days"]): row["persons"]
                     for row in result["frequency"]}
    assert got_frequency == want["frequency"]
    assert result["unique_visitors"] == sum(want["frequency"].values())
    assert result["repeat_visitors"] == sum(n for key, n in want["frequency"].items()
                                            if key[-1] >= 2)


@CASES
@given(event_sets(), filters(), MAX_SESSIONS, st.sampled_from(["hour", "day", "15min"]),
       st.sampled_from([(), ("camera",)]))
def test_occupancy_equals_brute_force(events: list[dict[str, Any]], flt: AnalyticsFilter,
                                      max_session: timedelta, bucket: str,
                                      dims: tuple[str, ...]) -> None:
    events = unique_events(events)
    result = engine(events, max_session).occupancy(flt, bucket, dims, "Europe/Berlin")
    data_end = max(e["ts"] for e in events)
    sessions = [s for s in reference_sessions(events, flt, max_session)
                if matches(s, flt, with_time=False)]
    present = [s for s in sessions if s["status"] in ("complete", "open")]
    in_period = [s for s in sessions if matches(s, flt)]
    assert result["sessions_left_out"] == {
        status: sum(1 for s in in_period if s["status"] == status)
        for status in ("timed_out", "orphan_exit")}
    if not result["series"]:
        assert not present and flt.start is None and flt.start_date is None
        return
    edges = [ref.ms(datetime.fromisoformat(x))
             for x in [*result["series"][0]["x"], result["end"]]]
    if flt.start is not None:
        assert edges[0] == ref.ms(flt.start)
    if flt.end is not None:
        assert edges[-1] == ref.ms(flt.end)
    for b0, b1 in zip(edges[1:-1], edges[2:-1], strict=False):  # whole buckets
        assert b1 == next_edge(b0, bucket)
    overlapping = [s for s in present if ref.ms(s["entry_ts"]) < edges[-1]
                   and ref.ms(s["exit_ts"] or data_end) > max(edges[0], ref.ms(s["entry_ts"]))]
    keys = [{}] + sorted(({d: s["source_id"] for d in dims} for s in overlapping if dims),
                         key=str)
    expected_keys = []
    for key in keys:
        if key not in expected_keys:
            expected_keys.append(key)
    assert [series["key"] for series in result["series"]] == expected_keys
    for series in result["series"]:
        intervals = [(ref.ms(s["entry_ts"]),
                      ref.ms(s["exit_ts"] if s["status"] == "complete" else data_end))
                     for s in present
                     if all(s["source_id"] == v for v in series["key"].values())]
        intervals = [(a, b) for a, b in intervals if b > a]
        maxima, means = ref.occupancy(intervals, edges)
        assert series["max"] == maxima
        assert all(close(g, w) for g, w in zip(series["mean"], means, strict=True))


@CASES
@given(st.lists(st.tuples(st.integers(-3, 12), st.integers(0, 6)), max_size=30),
       st.lists(st.integers(-2, 14), min_size=2, max_size=8, unique=True))
def test_occupancy_kernel_equals_brute_force(spans: list[tuple[int, int]],
                                             edge_steps: list[int]) -> None:
    """Intervals on a coarse grid (empty ones, shared instants, starts and ends on bucket
    edges, before the first edge and after the last): every bucket's max and mean."""
    intervals = [(5 * a, 5 * (a + length)) for a, length in spans]
    edges = sorted(5 * step for step in edge_steps)
    series = occupancy([a for a, _ in intervals], [b for _, b in intervals], edges)
    maxima, means = ref.occupancy([(a, b) for a, b in intervals if b > a], edges)
    assert series.max.tolist() == maxima
    assert series.mean.tolist() == pytest.approx(means, rel=1e-12, abs=1e-12)


def next_edge(edge_ms: int, bucket: str) -> int:
    """The end of the bucket starting at ``edge_ms`` (Berlin local days for ``day``)."""
    from zoneinfo import ZoneInfo

    if bucket != "day":
        return edge_ms + {"hour": 3_600_000, "15min": 900_000}[bucket]
    start = (ref.EPOCH + timedelta(milliseconds=edge_ms)).astimezone(ZoneInfo("Europe/Berlin"))
    following = datetime.combine(start.date() + timedelta(days=1), start.time(),
                                 tzinfo=ZoneInfo("Europe/Berlin"))
    return ref.ms(following)


@CASES
@given(event_sets(), filters(), MAX_SESSIONS)
def test_session_pages_list_exactly_the_filtered_sessions(
        events: list[dict[str, Any]], flt: AnalyticsFilter, max_session: timedelta) -> None:
    events = unique_events(events)
    analytics = engine(events, max_session)
    chosen = [s for s in reference_sessions(events, flt, max_session) if matches(s, flt)]
    listed: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        page = analytics.sessions(flt, limit=7, offset=offset)
        assert page["total"] == len(chosen)
        listed.extend(page["sessions"])
        offset = page["next_offset"]

    def row(s: dict[str, Any]) -> tuple[Any, ...]:
        return (s["subject_id"], s["source_id"], s["zone"], s["entry_ts"], s["exit_ts"],
                s["duration_ms"], s["status"])

    assert sorted(map(row, listed), key=str) == sorted(map(row, chosen), key=str)
    beyond = analytics.sessions(flt, limit=7, offset=len(chosen) + 3)
    assert beyond["sessions"] == [] and beyond["total"] == len(chosen)
    assert beyond["next_offset"] is None
