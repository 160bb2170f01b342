"""A file analysed in memory: sessions paired per grouping on demand, repeats dropped by a
hash check first, and the analytic columns only — all equal to the plain computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.dwell.analytics import DwellAnalytics
from vigil.dwell.filedata import ANALYTIC_COLUMNS, _first_of_each_event, load_file
from vigil.dwell.filters import AnalyticsFilter
from vigil.dwell.reader import ArrowReader
from vigil.dwell.records import all_session_records
from vigil.ingest.files import FileOptions
from vigil.ingest.wholefile import read_simple_csv
from vigil.store.arrowderive import local_time_columns
from vigil.store.batches import first_of_each_event

T0 = datetime(2024, 3, 30, 22, 0, tzinfo=UTC)  # Berlin springs forward 2024-03-31 01:00 UTC
ZONES = {"cam1": "Europe/Berlin", "cam2": "America/New_York"}
HEADER = "event_id,timestamp,camera_id,event_type,person_id,zone,age_group\n"


@st.composite
def csv_rows(draw: st.DrawFn) -> list[str]:
    """Rows with duplicates, out of order, ties, open visits, orphan exits and bad rows."""
    rows = []
    for i in range(draw(st.integers(1, 40))):
        ts = T0 + timedelta(minutes=draw(st.integers(0, 300)) + draw(st.sampled_from([0, .5])))
        kind = draw(st.sampled_from(["entry", "exit", "entry", "exit", "detection"]))
        person = draw(st.sampled_from(["p1", "p2", "p3", ""]))
        rows.append(",".join([
            draw(st.sampled_from([f"e{i}", f"e{i}", ""])),
            ts.isoformat().replace("+00:00", "Z"), draw(st.sampled_from(sorted(ZONES))),
            kind, person, draw(st.sampled_from(["", "a", "b"])),
            draw(st.sampled_from(["", "18-24", "65+"]))]))
    copies = draw(st.lists(st.sampled_from(rows), max_size=6))
    return draw(st.permutations(rows + copies))  # type: ignore[no-any-return]


def eager(path: Path, zones: dict[str, str]) -> DwellAnalytics:
    """The file's analytics computed the plain way: every column, every repeat checked by
    id, both groupings paired at once."""
    found = read_simple_csv(path, FileOptions())
    assert found is not None
    events = first_of_each_event(found[0])
    for name, column in local_time_columns(events, ZONES).items():
        events = events.append_column(name, column)
    data_end = pc.max(events.column("ts")).as_py() or datetime(1970, 1, 1, tzinfo=UTC)
    return DwellAnalytics(ArrowReader(events, all_session_records(events, data_end)), zones)


def answers(analytics: DwellAnalytics, flt: AnalyticsFilter) -> dict[str, Any]:
    return {"kpis": analytics.kpis(flt)["kpis"],
            "dwell": analytics.dwell(flt, ("camera", "day"))["rows"],
            "visitors": analytics.visitors(flt, "day")["periods"],
            "occupancy": analytics.occupancy(flt, "hour")["series"],
            "sessions": analytics.sessions(flt, 500)["sessions"]}


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(csv_rows(), st.sampled_from(["camera", "zone", "both"]))
def test_groupings_paired_on_demand_answer_as_all_paired_at_once(
        tmp_path: Path, rows: list[str], order: str) -> None:
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n")
    data = load_file(path, FileOptions(), ZONES)
    assert list(data.paired) == ["camera"] and data.events.column_names[:7] == list(
        ANALYTIC_COLUMNS)
    lazy = DwellAnalytics(data.reader(), data.timezones)
    plain = eager(path, data.timezones)
    flts = {"camera": [AnalyticsFilter()], "zone": [AnalyticsFilter(by="zone")],
            "both": [AnalyticsFilter(by="zone"), AnalyticsFilter()]}[order]
    for flt in flts:
        assert answers(lazy, flt) == answers(plain, flt)
    assert set(data.paired) == {"camera", *(["zone"] if order != "camera" else [])}


def test_a_query_naming_no_grouping_sees_every_grouping(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "a,2024-03-30T22:00:00Z,cam1,entry,p1,x,\n"
                             "b,2024-03-30T22:10:00Z,cam1,exit,p1,x,\n")
    reader = load_file(path, FileOptions(), ZONES).reader()
    try:
        table = reader.read_table("SELECT grouping, count(*) AS n FROM sessions "
                                  "GROUP BY grouping ORDER BY grouping")
    finally:
        reader.close()
    assert table.to_pylist() == [{"grouping": "camera", "n": 1}, {"grouping": "zone", "n": 1}]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 3),
                          st.integers(0, 9)), max_size=30))
def test_the_hash_check_drops_repeats_as_the_id_check_does(
        rows: list[tuple[str, int, int]]) -> None:
    events = pa.table({
        "event_id": pa.array([r[0] for r in rows], pa.string()),
        "ts": pa.array([T0 + timedelta(seconds=r[1]) for r in rows],
                       pa.timestamp("us", tz="UTC")),
        "note": pa.array([r[2] for r in rows], pa.int64())})
    assert _first_of_each_event(events).equals(first_of_each_event(events))


def test_unknown_columns_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(HEADER)
    with pytest.raises(ValueError, match="not event column"):
        read_simple_csv(path, FileOptions(), ("event_id", "colour"))
