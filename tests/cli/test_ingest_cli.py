"""``vigil ingest``: JSON report, exit codes, column maps, time zones and formats."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vigil.store import DuckDBStore, EventFilter
from vigil.synth import SynthConfig, generate_events, ground_truth, write_dataset

from .conftest import Invoke
from .helpers import VIGIL, clean_env, error_lines, event_count

CONFIG = SynthConfig(rows=1200, days=2, bad_fraction=0.05, seed=5)


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Path], dict[str, Any]]:
    table = generate_events(CONFIG)
    paths = write_dataset(table, tmp_path_factory.mktemp("synth"), ("csv", "ndjson"))
    return paths, ground_truth(table, CONFIG)


def stored(db: Path) -> list[dict[str, Any]]:
    store = DuckDBStore(db)
    try:
        return store.list_events(EventFilter(), None, 1000).events
    finally:
        store.close()


def test_json_report_only_json_on_stdout(db: Path, workdir: Path,
                                         synth: tuple[dict[str, Path], dict[str, Any]]) -> None:
    paths, truth = synth
    done = subprocess.run([str(VIGIL), "ingest", str(paths["csv"]), "--json", "--db", str(db)],
                          capture_output=True, text=True, timeout=60, cwd=workdir,
                          env=clean_env())
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)  # nothing but the JSON report
    assert report["rows_read"] == truth["rows"]
    assert report["accepted"] == truth["valid_rows"]
    assert report["rejected"] == truth["rows"] - truth["valid_rows"] > 0
    assert {r: i["lines"] for r, i in report["rejected_by_reason"].items()} == {
        r: lines for r, lines in truth["bad_rows"].items() if lines}
    assert report["per_source"] == {k: v for k, v in truth["per_camera"].items() if v}
    assert event_count(db) == truth["valid_rows"]


def test_ndjson_file_and_rerun_is_duplicates(vigil: Invoke, db: Path,
                                            synth: tuple[dict[str, Path], dict[str, Any]]
                                            ) -> None:
    paths, truth = synth
    first = vigil("ingest", paths["ndjson"], "--json", "--db", db)
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["accepted"] == truth["valid_rows"]
    again = json.loads(vigil("ingest", paths["ndjson"], "--json", "--db", db).stdout)
    assert (again["accepted"], again["duplicates"]) == (0, truth["valid_rows"])
    assert event_count(db) == truth["valid_rows"]


def test_human_report(vigil: Invoke, db: Path,
                      synth: tuple[dict[str, Path], dict[str, Any]]) -> None:
    paths, truth = synth
    result = vigil("ingest", paths["csv"], "--db", db)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert f"{truth['valid_rows']:,} accepted" in text
    assert "timestamp_invalid" in result.stdout


def test_missing_required_column(vigil: Invoke, db: Path, workdir: Path) -> None:
    path = workdir / "no_camera.csv"
    path.write_text("timestamp,event_type\n2026-03-22T10:00:00Z,detection\n")
    result = vigil("ingest", path, "--json", "--db", db)
    assert result.exit_code == 1
    assert json.loads(result.stdout)["error"].startswith("missing required column")
    lines = error_lines(result.stderr)
    assert len(lines) == 1, f"the error is split over {len(lines)} lines: {lines}"
    line = lines[0]
    assert line.startswith("error:")
    assert "camera_id" in line
    assert event_count(db) == 0


def test_missing_file(vigil: Invoke, db: Path, workdir: Path) -> None:
    path = workdir / "a-rather-long-folder-name" / "that-does-not-exist" / "events.csv"
    result = vigil("ingest", path, "--db", db)
    assert result.exit_code == 1
    lines = error_lines(result.stderr)
    assert len(lines) == 1, f"the error is split over {len(lines)} lines: {lines}"
    assert lines[0].startswith("error:") and "no such file" in lines[0]
    assert result.stdout == ""
    assert event_count(db) == 0


def test_one_good_one_missing_file(vigil: Invoke, db: Path, workdir: Path) -> None:
    good = workdir / "good.csv"
    good.write_text("camera_id,event_type,timestamp\nc1,motion,2026-03-22T10:00:00Z\n")
    result = vigil("ingest", good, workdir / "missing.csv", "--json", "--db", db)
    assert result.exit_code == 1
    reports = json.loads(result.stdout)
    assert [r.get("accepted") for r in reports] == [1, None]
    assert "no such file" in reports[1]["error"]
    assert event_count(db) == 1


def test_exit_0_with_rejected_rows(vigil: Invoke, db: Path, workdir: Path) -> None:
    path = workdir / "some_bad.csv"
    path.write_text("camera_id,event_type,timestamp,confidence\n"
                    "c1,detection,2026-03-22T10:00:00Z,0.5\n"
                    "c1,detection,2026-03-22T10:01:00Z,7\n"
                    ",detection,2026-03-22T10:02:00Z,0.5\n")
    result = vigil("ingest", path, "--json", "--db", db)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert (report["accepted"], report["rejected"]) == (1, 2)
    assert report["rejected_by_reason"]["confidence_out_of_range"]["lines"] == [3]
    assert report["rejected_by_reason"]["source_id_missing"]["lines"] == [4]


def test_column_map(vigil: Invoke, db: Path, workdir: Path) -> None:
    path = workdir / "mapped.csv"
    path.write_text("cam,kind,when\nporch,motion,2026-03-22T10:00:00Z\n")
    without = vigil("ingest", path, "--db", db)
    assert without.exit_code == 1
    result = vigil("ingest", path, "--map", "cam=camera_id", "--map", "kind=event_type",
                   "--map", "when=timestamp", "--json", "--db", db)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["accepted"] == 1
    [event] = stored(db)
    assert (event["source_id"], event["event_type"]) == ("porch", "motion")
    bad = vigil("ingest", path, "--map", "cam", "--db", db)
    assert bad.exit_code == 2


def test_timezone_and_timestamp_format(vigil: Invoke, db: Path, workdir: Path) -> None:
    path = workdir / "local.csv"
    path.write_text("camera_id,event_type,timestamp\n"
                    "c1,motion,22/03/2026 10:30\n"
                    "c1,motion,29/03/2026 10:30\n")
    no_zone = json.loads(vigil("ingest", path, "--timestamp-format", "%d/%m/%Y %H:%M",
                               "--json", "--db", db).stdout)
    assert no_zone["accepted"] == 0
    assert no_zone["rejected_by_reason"]["timestamp_no_zone"]["lines"] == [2, 3]
    result = vigil("ingest", path, "--timestamp-format", "%d/%m/%Y %H:%M",
                   "--timezone", "Europe/Berlin", "--json", "--db", db)
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["accepted"] == 2
    assert report["timestamp_formats"] == {"custom": 2}
    # CET before the 29 March DST change, CEST on that day
    assert [e["ts"].isoformat() for e in stored(db)] == [
        "2026-03-22T09:30:00+00:00", "2026-03-29T08:30:00+00:00"]


def test_zoneless_iso_with_timezone(vigil: Invoke, db: Path, workdir: Path) -> None:
    path = workdir / "naive.csv"
    path.write_text("camera_id,event_type,timestamp\nc1,motion,2026-07-01T12:00:00\n")
    result = vigil("ingest", path, "--timezone", "America/New_York", "--json", "--db", db)
    assert json.loads(result.stdout)["accepted"] == 1
    assert stored(db)[0]["ts"].isoformat() == "2026-07-01T16:00:00+00:00"


def test_bad_timezone_exits_2(vigil: Invoke, db: Path, workdir: Path) -> None:
    path = workdir / "naive.csv"
    path.write_text("camera_id,event_type,timestamp\nc1,motion,2026-07-01T12:00:00\n")
    result = vigil("ingest", path, "--timezone", "Mars/X", "--db", db)
    assert result.exit_code == 2
    [line] = error_lines(result.stderr)
    assert "Mars/X" in line
    assert event_count(db) == 0
