"""The whole-file CSV reader accepts, rejects and reports exactly what ``ingest_file`` does,
and steps aside (``None``) for files it does not handle."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.ingest.files import FileOptions, ingest_file
from vigil.ingest.wholefile import read_simple_csv
from vigil.store.base import EVENT_INPUT_SCHEMA

ANALYTIC = ("event_id", "source_id", "event_type", "ts", "subject_id", "zone", "attributes")
HEADER = "event_id,timestamp,camera_id,event_type,label,confidence,person_id,zone,age_group\n"
GOOD = [
    "a1,2026-03-22T10:00:00Z,cam1,entry,person,0.9,p1,door,25-34",
    "a2,2026-03-22T10:05:00.250Z,cam1,exit,person,0.8,p1,door,25-34",
    ",1774173600,cam2,detection,car,0.7,,,",
    "a4,2026-03-22T11:00:00+01:00,cam2,entry,person,,p2,,",
    " a5 , 2026-03-22T10:06:00Z , cam3 ,Exit,person,0.8, p1 , door ,25-34",
]
BAD = [
    "b1,not a time,cam1,entry,person,0.9,p1,door,",
    "b2,2026-03-22T10:00:00Z,cam1,entry,person,0.9,,door,",
    "b3,2026-03-22T10:00:00Z,cam1,detection,person,1.7,,door,",
    "b4,1980-01-01T00:00:00Z,cam1,detection,person,0.5,,door,",
    "b5,2026-03-22T10:00:00Z,,detection,person,0.5,,door,",
    'b6,2026-03-22T10:00:00Z,cam1,Bad Type,"person, car",0.5,,door,',
    "b7" + "7" * 127 + ",2026-03-22T10:00:00Z,cam1,entry,person,0.5,p1,door,",
    "b8,2026-03-22T10:00:00Z,cam" + "8" * 126 + ",entry,person,0.5,p1,door,",
    "b9,2026-03-22T10:00:00Z,cam1,detection,person,abc,,door,",
]


def general(path: Path, options: FileOptions) -> tuple[pa.Table, dict[str, object]]:
    parts: list[pa.Table] = []

    def collect(events: pa.Table) -> int:
        parts.append(events.select(EVENT_INPUT_SCHEMA.names).cast(EVENT_INPUT_SCHEMA))
        return int(events.num_rows)

    report = ingest_file(path, collect, options)
    events = pa.concat_tables(parts) if parts else EVENT_INPUT_SCHEMA.empty_table()
    return events, report.to_dict()


def same(path: Path, options: FileOptions | None = None) -> None:
    options = options or FileOptions()
    fast = read_simple_csv(path, options)
    assert fast is not None
    events, report = general(path, options)
    order = [("event_id", "ascending"), ("ts", "ascending")]
    assert fast[0].sort_by(order).equals(events.sort_by(order))
    assert fast[1].to_dict() == report
    some = read_simple_csv(path, options, ANALYTIC)  # fewer columns, the same rows and report
    assert some is not None
    assert some[0].sort_by(order).equals(events.select(list(ANALYTIC)).sort_by(order))
    assert some[1].to_dict() == report


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(GOOD + BAD), min_size=1, max_size=30), st.booleans())
def test_same_events_and_report_as_ingest_file(tmp_path: Path, rows: list[str],
                                                crlf: bool) -> None:
    newline = "\r\n" if crlf else "\n"
    path = tmp_path / "events.csv"
    path.write_bytes((HEADER.replace("\n", newline) + newline.join(rows) + newline).encode())
    same(path)


def test_rejected_rows_keep_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(HEADER + "\n".join([*GOOD[:4], BAD[0], GOOD[0], BAD[1]]))  # no final newline
    fast = read_simple_csv(path, FileOptions())
    assert fast is not None
    assert fast[1].rejected_lines == {"timestamp_invalid": [6], "person_id_missing": [8]}
    same(path)


def test_options_apply_as_in_ingest(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("id,when,cam,event_type,person_id\n"
                    "x1,2026-03-22 10:00:00,c1,entry,p1\nx2,2026-03-22 10:30:00,c1,exit,p1\n")
    options = FileOptions(column_map={"id": "event_id", "when": "timestamp",
                                      "cam": "camera_id"}, timezone="Europe/Berlin")
    same(path, options)
    fast = read_simple_csv(path, options)
    assert fast is not None and fast[0].num_rows == 2


@pytest.mark.parametrize("body", [
    GOOD[0] + "\n\n" + GOOD[1] + "\n",                        # a blank line
    GOOD[0] + "\n" + 'q1,2026-03-22T10:00:00Z,cam1,detection,"multi\nline",0.5,,,\n',
    GOOD[0] + "\n" + "r1,2026-03-22T10:00:00Z,cam1\n",        # too few fields
    GOOD[0] + "\n" + GOOD[1] + ",extra\n",                    # too many fields
])
def test_files_it_does_not_handle_are_left_to_ingest_file(tmp_path: Path, body: str) -> None:
    path = tmp_path / "events.csv"
    path.write_text(HEADER + body)
    assert read_simple_csv(path, FileOptions()) is None
    events, report = general(path, FileOptions())  # which reads them all the same
    assert report["rows_read"] >= 1 and events.num_rows >= 1


def test_other_formats_and_bad_headers_are_left_to_ingest_file(tmp_path: Path) -> None:
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_text('{"event_id": "a"}\n')
    assert read_simple_csv(ndjson, FileOptions()) is None
    headless = tmp_path / "events.csv"
    headless.write_text("foo,bar\n1,2\n")
    assert read_simple_csv(headless, FileOptions()) is None
