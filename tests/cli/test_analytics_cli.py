"""``vigil analytics`` and ``vigil report``: a file analysed in memory and the same data from
the store give the engine's numbers; bad options exit 2 naming the option."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from vigil.cli.generate import generate_dataset
from vigil.cli.jsonout import to_json
from vigil.dwell.analytics import DwellAnalytics
from vigil.dwell.filedata import load_file
from vigil.dwell.filters import AnalyticsFilter
from vigil.dwell.report import format_duration
from vigil.ingest.files import FileOptions
from vigil.synth import SynthConfig

from .conftest import Invoke
from .helpers import VIGIL, clean_env

EDGES_MS = tuple(m * 60_000 for m in (0, 1, 5, 15, 30, 60, 120, 240))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Five days of synthetic events (1% bad rows) in four cameras' zones."""
    out = tmp_path_factory.mktemp("analytics-data")
    config = SynthConfig(rows=8000, days=5, start=dt.date(2026, 3, 26), bad_fraction=0.01)
    return generate_dataset(config, out)


def plain(value: Any) -> Any:
    """``value`` as the CLI's JSON output shows it."""
    return json.loads(to_json(value))


def engine(csv: Path, zones: dict[str, str]) -> DwellAnalytics:
    """The analytics of the file, computed directly."""
    data = load_file(csv, FileOptions(), zones)
    return DwellAnalytics(data.reader(), data.timezones)


def zones_of(dataset: dict[str, Path]) -> dict[str, str]:
    zones: dict[str, str] = json.loads(dataset["cameras"].read_text())
    return zones


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ; floats may differ in their last digits (engines sum
    and interpolate in different orders)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a)} != {sorted(b)}"]
        return [d for k in a for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} != {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{path}[{i}]")]
    if isinstance(a, float) or isinstance(b, float):
        close = isinstance(a, int | float) and isinstance(b, int | float) and math.isclose(
            a, b, rel_tol=1e-9, abs_tol=1e-9)
        return [] if close else [f"{path}: {a!r} != {b!r}"]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def analytics_json(vigil: Invoke, *args: str | Path) -> dict[str, Any]:
    result = vigil("analytics", *args, "--json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_file_json_equals_the_engine(vigil: Invoke, dataset: dict[str, Path]) -> None:
    csv, zones = dataset["csv"], zones_of(dataset)
    truth = json.loads(dataset["truth"].read_text())
    got = analytics_json(vigil, "--file", csv, "--cameras", dataset["cameras"])
    direct = engine(csv, zones)
    flt = AnalyticsFilter()
    kpis = direct.kpis(flt)["kpis"]
    assert got["kpis"] == plain(kpis)
    assert kpis["events_processed"] == truth["valid_rows"]
    assert kpis["sessions"]["complete"] > 100 and kpis["cameras_with_activity"] == len(zones)
    assert got["dwell"]["group_by"] == ["camera"]
    assert got["dwell"]["rows"] == plain(direct.dwell(flt, ("camera",), 50)["rows"])
    assert {row["camera"] for row in got["dwell"]["rows"]} == set(zones)
    visitors = direct.visitors(flt, "day")
    assert got["visitors"]["unique_visitors"] == visitors["unique_visitors"] > 0
    assert got["visitors"]["repeat_visitors"] == visitors["repeat_visitors"]
    assert got["visitors"]["periods"] == plain(visitors["periods"])
    new = sum(p["new_visitors"] for p in visitors["periods"])
    assert got["visitors"]["new_visitors"] == new
    assert got["visitors"]["returning_visitors"] == visitors["unique_visitors"] - new
    occupancy = direct.occupancy(flt, "hour")
    assert got["occupancy"]["bucket"] == "hour"
    assert got["occupancy"]["series"] == plain(occupancy["series"])
    assert got["histogram"] == plain(direct.histogram(flt, EDGES_MS))
    assert sum(got["histogram"]["counts"]) == kpis["sessions"]["complete"]
    quality = got["quality"]
    assert quality["rejected"] == 8000 - truth["valid_rows"] > 0
    assert {r: i["lines"] for r, i in quality["rejected_by_reason"].items()} == truth["bad_rows"]


def test_store_equals_file(vigil: Invoke, dataset: dict[str, Path], db: Path) -> None:
    assert vigil("cameras", "import", dataset["cameras"], "--db", db).exit_code == 0
    ingested = vigil("ingest", dataset["csv"], "--db", db, "-q", "--no-detect")
    assert ingested.exit_code == 0, ingested.stderr
    for selection in ([], ["--from", "2026-03-27", "--to", "2026-03-28", "--group-by", "day"],
                      ["--camera", "shop_entrance", "--attr", "gender=female"]):
        stored = analytics_json(vigil, "--db", db, *selection)
        from_file = analytics_json(vigil, "--file", dataset["csv"], "--cameras",
                                   dataset["cameras"], "-q", *selection)
        assert stored["source"] == str(db) and from_file["source"] == str(dataset["csv"])
        assert "quality" not in stored
        for part in ("filter", "kpis", "dwell", "visitors", "occupancy", "histogram"):
            assert stored[part] == from_file[part], part
        assert stored["kpis"]["sessions"]["complete"] > 0


def test_postgres_store_equals_file(vigil: Invoke, dataset: dict[str, Path],
                                   pg_url: str) -> None:
    assert vigil("cameras", "import", dataset["cameras"], "--db", pg_url).exit_code == 0
    ingested = vigil("ingest", dataset["csv"], "--db", pg_url, "-q", "--no-detect")
    assert ingested.exit_code == 0, ingested.stderr
    selection = ["--from", "2026-03-27", "--group-by", "weekday", "--attr", "gender=male"]
    stored = analytics_json(vigil, "--db", pg_url, *selection)
    from_file = analytics_json(vigil, "--file", dataset["csv"], "--cameras",
                               dataset["cameras"], "-q", *selection)
    for part in ("filter", "kpis", "dwell", "visitors", "occupancy", "histogram"):
        assert differences(stored[part], from_file[part]) == [], part
    assert stored["kpis"]["sessions"]["complete"] > 0


def test_filters_reach_the_engine(vigil: Invoke, dataset: dict[str, Path]) -> None:
    csv, zones = dataset["csv"], zones_of(dataset)
    direct = engine(csv, zones)
    got = analytics_json(vigil, "--file", csv, "--cameras", dataset["cameras"], "-q",
                         "--from", "2026-03-27", "--to", "2026-03-28", "--camera",
                         "shop_entrance", "--camera", "front_door", "--attr",
                         "age_group=25-34", "--group-by", "weekday", "--group-by", "hour")
    flt = AnalyticsFilter(start_date=dt.date(2026, 3, 27), end_date=dt.date(2026, 3, 28),
                          cameras=("shop_entrance", "front_door"),
                          attributes={"age_group": "25-34"})
    assert got["filter"]["from"] == "2026-03-27" and got["filter"]["to"] == "2026-03-28"
    assert got["kpis"] == plain(direct.kpis(flt)["kpis"])
    assert got["kpis"]["unique_visitors"] < direct.kpis(AnalyticsFilter())["kpis"][
        "unique_visitors"]
    assert got["dwell"]["group_by"] == ["weekday", "hour"]
    assert got["dwell"]["rows"] == plain(direct.dwell(flt, ("weekday", "hour"), 50)["rows"])
    instant = analytics_json(vigil, "--file", csv, "-q", "--from", "2026-03-27T06:00:00Z",
                             "--to", "2026-03-27T18:00:00+00:00", "--by", "zone")
    window = AnalyticsFilter(start=dt.datetime(2026, 3, 27, 6, tzinfo=dt.UTC),
                             end=dt.datetime(2026, 3, 27, 18, tzinfo=dt.UTC), by="zone")
    assert instant["kpis"] == plain(engine(csv, {}).kpis(window)["kpis"])
    assert instant["filter"]["by"] == "zone"


def test_human_output(vigil: Invoke, dataset: dict[str, Path]) -> None:
    result = vigil("analytics", "--file", dataset["csv"], "--cameras", dataset["cameras"])
    assert result.exit_code == 0, result.stderr
    kpis = engine(dataset["csv"], zones_of(dataset)).kpis(AnalyticsFilter())["kpis"]
    out = result.stdout
    assert re.search(rf"unique visitors\s+{kpis['unique_visitors']:,}", out)
    assert re.search(rf"events processed\s+{kpis['events_processed']:,}", out)
    assert re.search(rf"sessions timed out\s+{kpis['sessions']['timed_out']:,}", out)
    assert format_duration(kpis["median_dwell_ms"]) in out
    assert re.search(r"median dwell\s+\d+m \d+s", out)
    assert "shop_entrance" in out and "dwell per camera" in out
    assert re.search(r"visitors: [\d,]+ unique, [\d,]+ repeat", out)
    assert re.search(r"peak occupancy: \d+ present", out)
    assert "rejected" in out  # the file's quality report comes first


def test_weekday_table_names_the_days(vigil: Invoke, dataset: dict[str, Path]) -> None:
    result = vigil("analytics", "--file", dataset["csv"], "-q", "--group-by", "weekday")
    assert result.exit_code == 0, result.stderr
    days = re.findall(r"^ ?(Mon|Tue|Wed|Thu|Fri|Sat|Sun) +[\d,]+ ", result.stdout, re.M)
    assert days == ["Mon", "Thu", "Fri", "Sat", "Sun"]  # 2026-03-26 (Thu) to 03-30 (Mon)


def stderr_on_a_terminal(*args: str | Path) -> tuple[int, str, str]:
    """Run ``vigil`` with stderr on a pseudo-terminal: exit code, stdout, terminal text."""
    master, slave = os.openpty()
    seen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal closed
                return
            if not chunk:
                return
            seen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        done = subprocess.run([str(VIGIL), *map(str, args)], stdout=subprocess.PIPE,
                              stderr=slave, env={**clean_env(), "TERM": "xterm"},
                              timeout=120, check=False)
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    return done.returncode, done.stdout.decode(), b"".join(seen).decode(errors="replace")


def test_progress_bar_on_a_terminal_unless_quiet(dataset: dict[str, Path]) -> None:
    code, out, terminal = stderr_on_a_terminal("analytics", "--file", dataset["csv"], "--json")
    assert code == 0 and json.loads(out)["kpis"]["events_processed"] > 0
    assert "rows/s" in terminal and "events.csv" in terminal
    code, out, terminal = stderr_on_a_terminal("analytics", "--file", dataset["csv"],
                                               "--json", "-q")
    assert code == 0 and "rows/s" not in terminal and "rejected" in terminal


def test_bad_row_reported_with_its_line(vigil: Invoke, workdir: Path) -> None:
    csv = workdir / "small.csv"
    csv.write_text(
        "timestamp,camera_id,event_type,person_id\n"
        "2026-03-02T10:00:00Z,door,entry,p1\n"
        "2026-03-02T10:05:00Z,door,exit,p1\n"
        "yesterday-ish,door,entry,p2\n"
        "2026-03-02T11:00:00Z,door,entry,p3\n", encoding="utf-8")
    text = vigil("analytics", "--file", csv)
    assert text.exit_code == 0, text.stderr
    assert re.search(r"1 rejected", text.stdout)
    assert re.search(r"timestamp_invalid.*│\s*1\s*│\s*4\s", text.stdout)
    as_json = vigil("analytics", "--file", csv, "--json")
    assert as_json.exit_code == 0, as_json.stderr
    assert "timestamp_invalid: lines 4" in as_json.stderr
    document = json.loads(as_json.stdout)
    assert document["quality"]["rejected_by_reason"]["timestamp_invalid"]["lines"] == [4]
    assert document["kpis"]["sessions"] == {"complete": 1, "open": 1, "timed_out": 0,
                                            "orphan_exit": 0}
    assert document["kpis"]["median_dwell_ms"] == 300_000


@pytest.mark.parametrize(("args", "option"), [
    (["--attr", "gender"], "--attr"),
    (["--attr", "bad-key=x"], "--attr"),
    (["--group-by", "colour"], "--group-by"),
    (["--group-by", "camera", "--group-by", "camera"], "--group-by"),
    (["--from", "2026-13-01"], "--from"),
    (["--from", "soon"], "--from"),
    (["--from", "2026-03-01T10:00"], "--from"),
    (["--from", "2026-03-05", "--to", "2026-03-01"], "--to"),
    (["--by", "floor"], "--by"),
    (["--timezone", "Mars/Olympus"], "--timezone"),
])
def test_bad_options_exit_2(vigil: Invoke, workdir: Path, args: list[str],
                            option: str) -> None:
    csv = workdir / "ok.csv"
    csv.write_text("timestamp,camera_id,event_type,person_id\n"
                   "2026-03-02T10:00:00Z,door,entry,p1\n", encoding="utf-8")
    for command in (["analytics"], ["report", "--html", workdir / "r.html"]):
        result = vigil(*command, "--file", csv, *args)
        assert result.exit_code == 2, (command, result.stdout)
        assert option in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert not (workdir / "r.html").exists()


def test_bad_camera_zones_file(vigil: Invoke, dataset: dict[str, Path], workdir: Path) -> None:
    zones = workdir / "zones.json"
    zones.write_text('{"door": "Nowhere/Land"}', encoding="utf-8")
    result = vigil("analytics", "--file", dataset["csv"], "--cameras", zones)
    assert result.exit_code == 2 and "--cameras" in result.stderr
    assert "Nowhere/Land" in result.stderr


def test_report_from_a_file(vigil: Invoke, dataset: dict[str, Path], workdir: Path) -> None:
    out = workdir / "report.html"
    result = vigil("report", "--html", out, "--file", dataset["csv"], "--cameras",
                   dataset["cameras"], "-q")
    assert result.exit_code == 0, result.stderr
    assert f"wrote {out}" in " ".join(result.stdout.split())  # the console wraps long paths
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 4  # histogram, occupancy, visitors, heatmap
    assert page.count("<title id=") == 4
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "@import" not in page and "url(" not in page
    kpis = engine(dataset["csv"], zones_of(dataset)).kpis(AnalyticsFilter())["kpis"]
    for label, value in (("unique visitors", f"{kpis['unique_visitors']:,}"),
                         ("events processed", f"{kpis['events_processed']:,}"),
                         ("median dwell", format_duration(kpis["median_dwell_ms"])),
                         ("max dwell", format_duration(kpis["max_dwell_ms"]))):
        assert (f'<div class="value">{value}</div><div class="label">{label}</div>'
                in page), label
    assert "<td>shop_entrance</td>" in page


def test_report_escapes_text(vigil: Invoke, workdir: Path, db: Path) -> None:
    evil = "<script>alert(1)</script>"
    csv = workdir / "evil.csv"
    csv.write_text(
        "timestamp,camera_id,event_type,person_id,zone\n"
        f'2026-03-02T10:00:00Z,"{evil}",entry,p1,"a&b"\n'
        f'2026-03-02T10:12:30Z,"{evil}",exit,p1,"a&b"\n', encoding="utf-8")
    out = workdir / "evil.html"
    result = vigil("report", "--html", out, "--file", csv, "--camera", evil)
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the filter and the table
    assert "<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert '<div class="value">12m 30s</div><div class="label">median dwell</div>' in page
    zoned = workdir / "zone.html"
    assert vigil("report", "--html", zoned, "--file", csv, "--group-by", "zone",
                 "-q").exit_code == 0
    assert "<td>a&amp;b</td>" in zoned.read_text(encoding="utf-8")


def test_report_from_the_store(vigil: Invoke, dataset: dict[str, Path], db: Path,
                               workdir: Path) -> None:
    assert vigil("ingest", dataset["csv"], "--db", db, "-q", "--no-detect").exit_code == 0
    out = workdir / "store.html"
    result = vigil("report", "--html", out, "--db", db, "--title", "Shop <weekly>")
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert "<title>Shop &lt;weekly&gt;</title>" in page
    assert page.count("<svg") == 4
    stored = analytics_json(vigil, "--db", db)
    assert (f'<div class="value">{stored["kpis"]["unique_visitors"]:,}</div>'
            f'<div class="label">unique visitors</div>') in page
