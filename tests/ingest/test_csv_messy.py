"""Messy CSV input: every case is checked against exact 1-based line numbers (header = line 1).

Accepted rows cannot report their line, so where a line number matters the row is made to
fail on purpose (usually with an unparseable timestamp) and the report must name that line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from vigil.ingest.files import FileOptions, IngestFileError, ingest_file
from vigil.store import Store, open_store

from .helpers import IngestText, all_events, events_by_id, rejected_lines

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:00:01Z"
BOM = b"\xef\xbb\xbf"


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


# -- encodings and line endings ----------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    ["timestamp,camera_id,event_type,event_id", "event_id,timestamp,camera_id,event_type"],
    ids=["bom-before-required-column", "bom-before-event-id"],
)
def test_utf8_bom(ingest_text: IngestText, store: Store, header: str) -> None:
    cells = {"timestamp": T0, "camera_id": "cam", "event_type": "detection", "event_id": "b1"}
    names = header.split(",")
    good = ",".join(cells[n] for n in names)
    bad = ",".join({**cells, "timestamp": "nope", "event_id": "b2"}[n] for n in names)
    report = ingest_text(BOM + f"{header}\n{good}\n{bad}\n".encode())
    assert report["accepted"] == 1
    assert rejected_lines(report) == {"timestamp_invalid": [3]}
    events = events_by_id(store)
    assert list(events) == ["b1"]  # the BOM did not turn "event_id" into another column
    assert events["b1"]["attributes"] is None
    assert events["b1"]["ts"] == utc(2026, 1, 1)


@pytest.mark.parametrize("ragged", [False, True], ids=["fast-path", "with-padded-row"])
def test_crlf_line_endings(ingest_text: IngestText, store: Store, ragged: bool) -> None:
    lines = [
        "event_id,timestamp,camera_id,event_type,note",  # 1
        f"c1,{T0},cam,detection,first",  # 2
        "",  # 3
        "c2,bad,cam,detection,second",  # 4
        f'c3,{T0},cam,detection,"multi',  # 5
        'line"',  # 6
        "c4,bad2,cam,detection,x",  # 7
        f"c5,{T0},cam,detection,last",  # 8
    ]
    if ragged:
        lines.append(f"c6,{T1},cam,detection")  # 9: one field short
    report = ingest_text("\r\n".join(lines) + "\r\n")
    assert rejected_lines(report) == {"timestamp_invalid": [4, 7]}
    assert report["blank_lines"] == 1
    assert report["padded_rows"] == (1 if ragged else 0)
    events = events_by_id(store)
    assert set(events) == ({"c1", "c3", "c5", "c6"} if ragged else {"c1", "c3", "c5"})
    assert events["c1"]["attributes"] == {"note": "first"}  # no trailing "\r"
    assert events["c5"]["attributes"] == {"note": "last"}
    assert events["c3"]["attributes"] == {"note": "multi\r\nline"}  # quoted: kept verbatim
    if ragged:
        assert events["c6"]["attributes"] is None
        assert events["c6"]["source_id"] == "cam"


def test_quoted_fields_with_commas_quotes_and_newlines(ingest_text: IngestText,
                                                       store: Store) -> None:
    text = (
        "event_id,timestamp,camera_id,event_type,zone,note\n"  # 1
        f'q1,{T0},cam,detection,"front, left","she said ""hi"", then left"\n'  # 2
        'q2,bad,cam,detection,yard,"spans\n'  # 3
        'two lines"\n'  # 4
        "q3,bad,cam,detection,yard,plain\n"  # 5
        f'q4,{T0},cam,detection,"a ""b""","one\n'  # 6
        "two, three\n"  # 7
        '""four"""\n'  # 8
        "q5,bad,cam,detection,yard,x\n"  # 9
        f'q6,{T1},cam,detection,"""quoted""",\n'  # 10
        'q7,bad,cam,detection,"x\n'  # 11
        '",""\n'  # 12
        "q8,bad,cam,detection,yard,y\n"  # 13
    )
    report = ingest_text(text)
    assert rejected_lines(report) == {"timestamp_invalid": [3, 5, 9, 11, 13]}
    assert report["rows_read"] == 8
    assert report["padded_rows"] == 0
    events = events_by_id(store)
    assert set(events) == {"q1", "q4", "q6"}
    assert events["q1"]["zone"] == "front, left"
    assert events["q1"]["attributes"] == {"note": 'she said "hi", then left'}
    assert events["q4"]["zone"] == 'a "b"'
    assert events["q4"]["attributes"] == {"note": 'one\ntwo, three\n"four"'}
    assert events["q6"]["zone"] == '"quoted"'
    assert events["q6"]["attributes"] is None


# -- blank lines -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "blanks",
    [("", "", ""), ("   ", "\t", " \t ")],
    ids=["empty-lines", "whitespace-only-lines"],
)
def test_blank_and_whitespace_lines(ingest_text: IngestText, store: Store,
                                    blanks: tuple[str, str, str]) -> None:
    lines = [
        "event_id,timestamp,camera_id,event_type",  # 1
        f"w1,{T0},cam,detection",  # 2
        blanks[0],  # 3
        blanks[1],  # 4
        "w2,bad,cam,detection",  # 5
        blanks[2],  # 6
        f"w3,{T1},cam,detection",  # 7
        "w4,bad,cam,detection",  # 8
    ]
    report = ingest_text("\n".join(lines) + "\n")
    assert report["blank_lines"] == 3
    assert report["rows_read"] == 4
    assert rejected_lines(report) == {"timestamp_invalid": [5, 8]}
    assert set(events_by_id(store)) == {"w1", "w3"}


def test_blank_lines_before_the_header(ingest_text: IngestText, store: Store) -> None:
    text = (
        "\n"  # 1
        "  \n"  # 2
        "event_id,timestamp,camera_id,event_type\n"  # 3
        "x1,bad,cam,detection\n"  # 4
        f"x2,{T0},cam,motion\n"  # 5
    )
    report = ingest_text(text)
    assert rejected_lines(report) == {"timestamp_invalid": [4]}
    assert set(events_by_id(store)) == {"x2"}


# -- ragged rows and the last line -------------------------------------------------------------
def test_ragged_rows(ingest_text: IngestText, store: Store) -> None:
    text = (
        "event_id,timestamp,camera_id,event_type,label,zone\n"  # 1
        f"r1,{T0},cam,detection,person\n"  # 2: one short, optional zone
        f"r2,{T0},cam,detection\n"  # 3: two short, optional label and zone
        f"r3,{T0},cam,detection,person,yard,EXTRA\n"  # 4: one too many
        f"r4,{T0},cam\n"  # 5: short, the missing event_type is required
        f"r5,{T0},cam,detection,car,drive\n"  # 6: complete
        f"r6,{T0},cam,detection,person,yard,x,y\n"  # 7: two too many
        "r7,bad,cam,detection\n"  # 8: short and a bad timestamp
        f'r8,{T0},cam,detection,person,"x, y, z"\n'  # 9: quoted commas are not separators
    )
    report = ingest_text(text)
    assert report["rows_read"] == 8
    assert report["padded_rows"] == 4
    assert rejected_lines(report) == {
        "too_many_fields": [4, 7],
        "event_type_missing": [5],
        "timestamp_invalid": [8],
    }
    assert report["accepted"] == 4
    events = events_by_id(store)
    assert set(events) == {"r1", "r2", "r5", "r8"}
    assert (events["r1"]["labels"], events["r1"]["zone"]) == (["person"], None)
    assert (events["r2"]["labels"], events["r2"]["zone"]) == ([], None)
    assert (events["r5"]["labels"], events["r5"]["zone"]) == (["car"], "drive")
    assert events["r8"]["zone"] == "x, y, z"


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_last_line_without_newline(ingest_text: IngestText, store: Store, newline: str) -> None:
    head = newline.join(["event_id,timestamp,camera_id,event_type,label",
                         f"n1,{T0},cam,detection,car", "n2,bad,cam,detection,car"])
    ingest_text(head + newline + f"n3,{T1},cam,detection,person")
    events = events_by_id(store)
    assert set(events) == {"n1", "n3"}
    assert events["n3"]["labels"] == ["person"]

    report = ingest_text(head + newline + "n4,bad,cam,detection,person")
    assert rejected_lines(report) == {"timestamp_invalid": [3, 4]}

    report = ingest_text(head + newline + f'n5,{T1},cam,detection,"multi{newline}line"')
    assert rejected_lines(report) == {"timestamp_invalid": [3]}
    assert events_by_id(store)["n5"]["labels"] == [f"multi{newline}line"]

    report = ingest_text(head + newline + f"n6,{T1},cam,detection")  # short and unterminated
    assert report["padded_rows"] == 1
    assert events_by_id(store)["n6"]["labels"] == []


# -- columns -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [
        "zone,label,confidence,event_type,camera_id,timestamp,event_id",
        "score,object_type,area,type,time,camera,id",
    ],
    ids=["shuffled", "shuffled-aliases"],
)
def test_columns_in_any_order(ingest_text: IngestText, store: Store, header: str) -> None:
    values = {
        "zone": "yard", "area": "yard",
        "label": "Person", "object_type": "Person",
        "confidence": "0.75", "score": "0.75",
        "event_type": "detection", "type": "detection",
        "camera_id": "cam7", "camera": "cam7",
        "timestamp": "2026-05-01T12:30:00+02:00", "time": "2026-05-01T12:30:00+02:00",
        "event_id": "o1", "id": "o1",
    }
    names = header.split(",")
    report = ingest_text(header + "\n" + ",".join(values[n] for n in names) + "\n")
    assert report["accepted"] == 1
    (event,) = all_events(store)
    assert event["event_id"] == "o1"
    assert event["source_id"] == "cam7"
    assert event["event_type"] == "detection"
    assert event["labels"] == ["person"]
    assert event["confidence"] == 0.75
    assert event["zone"] == "yard"
    assert event["ts"] == utc(2026, 5, 1, 10, 30)
    assert event["attributes"] is None


def test_extra_columns_land_in_attributes(ingest_text: IngestText, store: Store) -> None:
    text = (
        "event_id, Age_Group ,timestamp,camera_id,event_type,person_id,Gender\n"
        f"a1,adult,{T0},cam,entry,p1,f\n"
        f"a2,,{T0},cam,entry,p2,\n"
        f"a3,child,{T0},cam,entry,p3,\n"
    )
    report = ingest_text(text)
    assert report["accepted"] == 3
    events = events_by_id(store)
    assert events["a1"]["attributes"] == {"age_group": "adult", "gender": "f"}
    assert events["a1"]["subject_id"] == "p1"
    assert events["a2"]["attributes"] is None
    assert events["a3"]["attributes"] is not None
    assert events["a3"]["attributes"]["age_group"] == "child"
    assert events["a3"]["attributes"].get("gender") is None
    assert report["null_counts"]["age_group"] == 1
    assert report["null_counts"]["gender"] == 2


def test_column_map_renames(ingest_text: IngestText, store: Store) -> None:
    text = "when,cam,kind,what,who,extra\n" f"{T0},door,exit,Car,p9,e\n" "bad,door,exit,car,p9,e\n"
    mapping = {"when": "timestamp", "cam": "camera_id", "kind": "event_type",
               "what": "label", "who": "person_id"}
    report = ingest_text(text, column_map=mapping)
    assert rejected_lines(report) == {"timestamp_invalid": [3]}
    (event,) = all_events(store)
    assert (event["source_id"], event["event_type"], event["subject_id"]) == ("door", "exit", "p9")
    assert event["labels"] == ["car"]
    assert event["attributes"] == {"extra": "e"}
    with pytest.raises(IngestFileError, match="missing required column"):
        ingest_text(text)  # without the map the required columns are not there


@pytest.mark.parametrize(
    ("header", "missing"),
    [
        ("camera_id,event_type,label", "timestamp"),
        ("timestamp,event_type,label", "camera_id"),
        ("timestamp,camera_id,label", "event_type"),
    ],
)
def test_missing_required_column_stores_nothing(ingest_text: IngestText, store: Store,
                                                header: str, missing: str) -> None:
    values = {"timestamp": T0, "camera_id": "cam", "event_type": "detection", "label": "car"}
    row = ",".join(values[n] for n in header.split(","))
    with pytest.raises(IngestFileError) as raised:
        ingest_text(f"{header}\n{row}\n{row}\n")
    message = str(raised.value)
    assert "missing required column" in message
    assert missing in message.split(";")[0]
    assert store.count_events() == 0
    assert store.list_sources() == []
    assert store.hourly_counts().num_rows == 0


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("", "empty"),
        ("\n \n\n", "empty"),
        ("timestamp,camera_id,event_type,Camera_ID\n", "repeated"),
    ],
    ids=["empty-file", "blank-lines-only", "repeated-column"],
)
def test_unreadable_files(ingest_text: IngestText, store: Store, content: str,
                          match: str) -> None:
    with pytest.raises(IngestFileError, match=match):
        ingest_text(content)
    assert store.count_events() == 0


def test_unterminated_quote_is_one_rejected_record(ingest_text: IngestText,
                                                   store: Store) -> None:
    """A quote never closed makes the rest of the file one bad record, named by its line."""
    text = (
        "event_id,timestamp,camera_id,event_type,label\n"  # 1
        f"u1,{T0},cam,detection,ok\n"  # 2
        f'u2,{T0},cam,detection,"unterminated\n'  # 3
        f"u3,{T1},cam,detection,car\n"  # 4: inside the open quote
    )
    report = ingest_text(text)
    assert rejected_lines(report) == {"unterminated_quote": [3]}
    assert report["accepted"] == 1
    assert set(events_by_id(store)) == {"u1"}


def test_unterminated_quote_in_a_later_block(tmp_path: Path, store: Store) -> None:
    big = _build_big_file("\n", rows=300)
    bad_line = big.line + 1
    big.text += f'zz1,{T0},cam,detection,"never closed\n' + f"zz2,{T1},cam,motion,x\n" * 50
    path = tmp_path / "open-quote.csv"
    path.write_bytes(big.text.encode())
    report = ingest_file(path, store.insert_events, FileOptions(block_bytes=BLOCK)).to_dict()
    assert rejected_lines(report) == {**big.rejected, "unterminated_quote": [bad_line]}
    assert set(events_by_id(store)) == set(big.good)
    assert report["bytes_read"] == path.stat().st_size


# -- rejection reasons -------------------------------------------------------------------------
REASON_ROWS = [
    # (line, row, reason without --timezone)
    (2, f"ok1,{T0},cam,detection,0.5,,person", None),
    (3, "r_ts,not a time,cam,detection,0.5,,person", "timestamp_invalid"),
    (4, "r_nozone,2026-01-01T00:00:00,cam,detection,0.5,,person", "timestamp_no_zone"),
    (5, f"r_conf_hi,{T0},cam,detection,1.5,,person", "confidence_out_of_range"),
    (6, f"r_conf_txt,{T0},cam,detection,high,,person", "confidence_invalid"),
    (7, f"r_entry,{T0},cam,entry,,,", "person_id_missing"),
    (8, f"r_exit,{T0},cam,exit,,,", "person_id_missing"),
    (9, f"r_src,{T0},,detection,0.5,,person", "source_id_missing"),
    (10, f"r_type,{T0},cam,Bad Type,0.5,,person", "event_type_invalid"),
    (11, f"ok_exit,{T0},cam,exit,,p1,", None),
    (12, f"r_conf_lo,{T0},cam,detection,-0.1,,person", "confidence_out_of_range"),
    (13, "r_nots,,cam,detection,0.5,,person", "timestamp_missing"),
    (14, f"r_type2,{T0},cam,9lives,0.5,,person", "event_type_invalid"),
    (15, f"ok_upper,{T0},cam,DETECTION,1.0,,person", None),
    (16, "r_old,1985-06-01T00:00:00Z,cam,detection,0.5,,person", "timestamp_out_of_range"),
]
REASON_HEADER = "event_id,timestamp,camera_id,event_type,confidence,person_id,label"


def _reason_file() -> str:
    return REASON_HEADER + "\n" + "\n".join(row for _, row, _ in REASON_ROWS) + "\n"


def _expected_lines(skip: set[str]) -> dict[str, list[int]]:
    expected: dict[str, list[int]] = {}
    for line, _, reason in REASON_ROWS:
        if reason and reason not in skip:
            expected.setdefault(reason, []).append(line)
    return expected


def test_rows_rejected_per_reason(ingest_text: IngestText, store: Store) -> None:
    report = ingest_text(_reason_file())
    assert rejected_lines(report) == _expected_lines(set())
    assert report["rejected"] == 12
    assert report["accepted"] == 3
    for entry in report["rejected_by_reason"].values():
        assert entry["count"] == len(entry["lines"])
        assert entry["message"]
    assert report["rejected_by_reason"]["confidence_invalid"]["field"] == "confidence"
    assert report["rejected_by_reason"]["person_id_missing"]["field"] == "person_id"
    events = events_by_id(store)
    assert set(events) == {"ok1", "ok_exit", "ok_upper"}
    assert events["ok_upper"]["event_type"] == "detection"


def test_zoneless_timestamps_accepted_with_timezone(ingest_text: IngestText,
                                                    store: Store) -> None:
    report = ingest_text(_reason_file(), timezone="Europe/Berlin")
    assert rejected_lines(report) == _expected_lines({"timestamp_no_zone"})
    events = events_by_id(store)
    assert set(events) == {"ok1", "ok_exit", "ok_upper", "r_nozone"}
    assert events["r_nozone"]["ts"] == utc(2025, 12, 31, 23)  # 00:00 CET
    assert events["ok1"]["ts"] == utc(2026, 1, 1)  # a stated zone wins over --timezone


# -- timestamp formats -------------------------------------------------------------------------
def test_huge_unix_value_rejects_its_row_only(ingest_text: IngestText, store: Store) -> None:
    """A 16-digit number is unix ms far beyond 2099: one rejected row, not a failed file."""
    text = (
        "event_id,timestamp,camera_id,event_type\n"
        f"h1,{T0},cam,motion\n"
        "h2,9999999999999999,cam,motion\n"
        f"h3,{T1},cam,motion\n"
    )
    report = ingest_text(text)
    assert rejected_lines(report) == {"timestamp_out_of_range": [3]}
    assert set(events_by_id(store)) == {"h1", "h3"}


def test_unix_seconds_and_milliseconds_in_one_file(ingest_text: IngestText,
                                                   store: Store) -> None:
    text = (
        "event_id,timestamp,camera_id,event_type\n"
        "s,1767225600,cam,motion\n"
        "ms,1767225600123,cam,motion\n"
        "sf,1767225600.5,cam,motion\n"
        "old_ms,631152000000,cam,motion\n"
        "old_s,631152000,cam,motion\n"
        "neg,-1767225600,cam,motion\n"
    )
    report = ingest_text(text)
    assert report["timestamp_formats"] == {"unix_s": 4, "unix_ms": 2}
    assert rejected_lines(report) == {"timestamp_out_of_range": [7]}
    events = events_by_id(store)
    assert events["s"]["ts"] == utc(2026, 1, 1)
    assert events["ms"]["ts"] == utc(2026, 1, 1, 0, 0, 0, 123000)
    assert events["sf"]["ts"] == utc(2026, 1, 1, 0, 0, 0, 500000)
    assert events["old_ms"]["ts"] == utc(1990, 1, 1)
    assert events["old_s"]["ts"] == utc(1990, 1, 1)


@pytest.mark.parametrize("timezone", [None, "Europe/Berlin"])
def test_custom_timestamp_format(ingest_text: IngestText, store: Store,
                                 timezone: str | None) -> None:
    text = (
        "event_id,timestamp,camera_id,event_type\n"
        "c1,29/03/2026 14:05:30,cam,motion\n"  # CEST
        "c2,01/01/2026 00:00:00,cam,motion\n"  # CET
        "c3,2026-01-01T06:00:00Z,cam,motion\n"  # zoned ISO still accepted
        "c4,31/02/2026 00:00:00,cam,motion\n"  # no such day
        "c5,29/03/2026 02:30:00,cam,motion\n"  # in the spring-forward gap
    )
    report = ingest_text(text, timestamp_format="%d/%m/%Y %H:%M:%S", timezone=timezone)
    events = events_by_id(store)
    assert events["c3"]["ts"] == utc(2026, 1, 1, 6)
    if timezone is None:
        assert rejected_lines(report) == {"timestamp_no_zone": [2, 3, 6],
                                          "timestamp_invalid": [5]}
        assert set(events) == {"c3"}
        return
    assert rejected_lines(report) == {"timestamp_invalid": [5]}
    assert report["timestamp_formats"] == {"custom": 3, "iso8601": 1, "unknown": 1}
    assert events["c1"]["ts"] == utc(2026, 3, 29, 12, 5, 30)
    assert events["c2"]["ts"] == utc(2025, 12, 31, 23)
    assert events["c5"]["ts"] == utc(2026, 3, 29, 1, 30)  # moved forward by the gap


# -- several blocks ----------------------------------------------------------------------------
BLOCK = 4096


@dataclass
class BigFile:
    """A CSV built record by record, with what ingest must report about it."""

    newline: str
    text: str = ""
    line: int = 0
    header_bytes: int = 0
    good: dict[str, str | None] = field(default_factory=dict)  # event id -> note (or None)
    rejected: dict[str, list[int]] = field(default_factory=dict)
    padded: int = 0
    straddles: list[tuple[int, int]] = field(default_factory=list)  # byte spans of records

    def add(self, record: str, event_id: str | None = None, reason: str | None = None,
            note: str | None = None, padded: bool = False) -> None:
        start_line = self.line + 1
        self.text += record + self.newline
        self.line += record.count("\n") + 1
        if reason:
            self.rejected.setdefault(reason, []).append(start_line)
        elif event_id:
            self.good[event_id] = note
        self.padded += padded

    def read_boundaries(self) -> list[int]:
        """Byte offsets where the reader's fixed-size reads end (it starts after the header)."""
        return list(range(self.header_bytes + BLOCK, len(self.text.encode()), BLOCK))


RELATIVE = (-1, 0, 1, -3, 3, -2, 0, 5)
"""Where the quoted newline of the n-th straddling record falls, relative to the boundary."""


def _build_big_file(newline: str, rows: int = 700) -> BigFile:
    """About 40 KiB of CSV; a record with a quoted newline straddles each read boundary.

    Straddling records alternate between accepted and rejected (bad timestamp); other rows
    are rejected, padded, too long or followed by a whitespace-only line at fixed intervals.
    """
    big = BigFile(newline)
    big.add("event_id,timestamp,camera_id,event_type,note")
    big.header_bytes = len(big.text)
    start = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)
    for i in range(rows):
        ts = (start + dt.timedelta(seconds=37 * i)).isoformat()
        done = len(big.straddles)
        relative = RELATIVE[done % len(RELATIVE)]
        target = big.header_bytes + (done + 1) * BLOCK + relative
        straddle_bad = done % 2 == 1
        prefix = f"m{i:04d},{'bad' if straddle_bad else ts},cam,detection,"
        first_len = target - (len(big.text) + len(prefix) + 1)  # chars before the newline
        if max(1, relative + 1) <= first_len <= 120:
            first = "a" * first_len
            begin = len(big.text)
            big.add(f'{prefix}"{first}{newline}y""z"', f"m{i:04d}",
                    "timestamp_invalid" if straddle_bad else None,
                    note=f'{first}{newline}y"z')
            big.straddles.append((begin, len(big.text)))
            continue
        event_id = f"k{i:04d}"
        if i % 17 == 5:
            big.add(f"{event_id},bad-{i},cam,detection,n{i}", event_id, "timestamp_invalid")
        elif i % 53 == 7:
            big.add(f"{event_id},{ts},cam,detection", event_id, padded=True)
        elif i % 71 == 9:
            big.add(f"{event_id},{ts},cam,detection,n{i},extra", event_id, "too_many_fields")
        elif i % 29 == 3:
            big.add(f"{event_id},{ts},cam,detection,w{i}", event_id, note=f"w{i}")
            big.add("   ")  # a whitespace-only line: this block takes the slow path
        else:
            big.add(f'{event_id},{ts},cam,detection,"n{i}, ok"', event_id, note=f"n{i}, ok")
    return big


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_line_numbers_across_blocks(tmp_path: Path, store: Store, newline: str) -> None:
    big = _build_big_file(newline)
    path = tmp_path / "big.csv"
    path.write_bytes(big.text.encode())
    boundaries = big.read_boundaries()
    assert len(big.straddles) >= max(8, len(boundaries) - 1)
    for boundary, (begin, end) in zip(boundaries, big.straddles, strict=False):
        assert begin < boundary < end - len(newline)  # a quoted newline spans the boundary
    calls: list[tuple[int, int]] = []
    report = ingest_file(path, store.insert_events, FileOptions(block_bytes=BLOCK),
                         progress=lambda done, rows: calls.append((done, rows))).to_dict()
    assert len(calls) >= 8
    assert calls[-1][0] == path.stat().st_size
    assert rejected_lines(report) == big.rejected
    assert report["padded_rows"] == big.padded
    assert report["blank_lines"] == big.text.count(newline + "   " + newline)
    assert report["accepted"] == len(big.good)
    events = events_by_id(store)
    assert set(events) == set(big.good)
    for event_id, note in big.good.items():
        expected = {"note": note} if note is not None else None
        assert events[event_id]["attributes"] == expected, event_id


def test_small_blocks_report_like_one_block(tmp_path: Path) -> None:
    """The same file read in 4 KiB blocks and in one block gives the same report."""
    big = _build_big_file("\n")
    path = tmp_path / "big.csv"
    path.write_bytes(big.text.encode())
    reports = []
    for block_bytes in (BLOCK, 8 * 1024 * 1024):
        store = open_store(str(tmp_path / f"{block_bytes}.duckdb"))
        try:
            report = ingest_file(path, store.insert_events, FileOptions(block_bytes=block_bytes))
            reports.append(report.to_dict())
        finally:
            store.close()
    assert reports[0] == reports[1]
