"""The HTML report: pure SVG/HTML builders over plain lists, and the page from real data."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from vigil.dwell.analytics import DwellAnalytics
from vigil.dwell.filedata import load_file
from vigil.dwell.filters import AnalyticsFilter
from vigil.dwell.report import (
    BOTTOM,
    HEIGHT,
    TOP,
    collect_report,
    describe_filter,
    dimension_label,
    format_duration,
    html_table,
    kpi_cards,
    nice_ceiling,
    peak_occupancy,
    render_report,
    svg_bars,
    svg_heatmap,
    svg_lines,
    visitor_totals,
)
from vigil.ingest.files import FileOptions

PLOT_H = HEIGHT - TOP - BOTTOM


def attrs(svg: str, cls: str, name: str) -> list[float]:
    """The ``name`` attribute of every element of class ``cls``, in order."""
    return [float(m) for m in re.findall(rf'class="{cls}"[^>]*?\b{name}="([-\d.]+)"', svg)]


@pytest.mark.parametrize(("ms", "text"), [
    (None, "-"), (0, "0s"), (400, "0s"), (45_000, "45s"), (750_000, "12m 30s"),
    (3_600_000, "1h 0m"), (7_500_000, "2h 5m"), (93_600_000, "1d 2h"),
])
def test_format_duration(ms: float | None, text: str) -> None:
    assert format_duration(ms) == text


@pytest.mark.parametrize(("value", "top"), [
    (0, 1), (1, 1), (18, 20), (218, 250), (1000, 1000), (1001, 1500), (0.3, 0.3), (7, 8),
])
def test_nice_ceiling(value: float, top: float) -> None:
    assert nice_ceiling(value) == pytest.approx(top)


def test_bars_one_per_value_heights_proportional() -> None:
    values = [4, 0, 10, 7]
    svg = svg_bars(["a", "b", "c", "d"], [("sessions", values)], "Dwell", x_label="bin",
                   y_label="sessions")
    assert svg.count('class="bar"') == len(values)
    heights = attrs(svg, "bar", "height")
    top = nice_ceiling(max(values))
    assert heights == pytest.approx([PLOT_H * v / top for v in values], abs=0.06)
    assert heights[1] == 0
    assert heights[2] / heights[0] == pytest.approx(10 / 4, rel=0.01)
    ys = attrs(svg, "bar", "y")
    assert [y + h for y, h in zip(ys, heights, strict=True)] == pytest.approx(
        [TOP + PLOT_H] * 4, abs=0.11)  # every bar stands on the axis
    assert "<title" in svg and ">Dwell</title>" in svg and ">sessions</text>" in svg


def test_stacked_bars() -> None:
    new, returning = [3, 5], [1, 5]
    svg = svg_bars(["d1", "d2"], [("new", new), ("returning", returning)], "Visitors")
    assert svg.count('class="bar"') == 4
    heights, ys = attrs(svg, "bar", "height"), attrs(svg, "bar", "y")
    total_top = nice_ceiling(10)
    assert heights[0] + heights[1] == pytest.approx(PLOT_H * 4 / total_top, abs=0.11)
    assert heights[2] + heights[3] == pytest.approx(PLOT_H * 10 / total_top, abs=0.11)
    assert ys[1] + heights[1] == pytest.approx(ys[0], abs=0.11)  # returning sits on new
    assert ">new</text>" in svg and ">returning</text>" in svg  # the legend


def test_lines_one_point_per_value() -> None:
    maxima, means = [0, 4, 8, 2, 6], [0, 1.5, 3, 0.5, 2]
    svg = svg_lines([f"h{i}" for i in range(5)], [("max", maxima), ("mean", means)],
                    "Occupancy", y_label="people")
    lines = re.findall(r'class="line"[^>]*points="([^"]+)"', svg)
    assert len(lines) == 2
    top = nice_ceiling(8)
    for points, values in zip(lines, (maxima, means), strict=True):
        pairs = [tuple(map(float, p.split(","))) for p in points.split()]
        assert len(pairs) == len(values)
        assert [y for _, y in pairs] == pytest.approx(
            [TOP + PLOT_H - PLOT_H * v / top for v in values], abs=0.06)
        xs = [x for x, _ in pairs]
        assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_heatmap_cells_and_opacity() -> None:
    matrix = [[0, 2, 4], [1, 0, 8]]
    svg = svg_heatmap(["Mon", "Tue"], ["00", "01", "02"], matrix, "Sessions", unit="sessions")
    assert svg.count('class="cell"') == 6
    opacity = [float(v) for v in re.findall(r'fill-opacity="([\d.]+)"', svg)]
    assert opacity == pytest.approx([v / 8 for row in matrix for v in row], abs=0.001)
    assert "Tue 02: 8 sessions" in svg and "the darkest cell is 8 sessions" in svg


def test_empty_charts_say_so() -> None:
    for svg in (svg_bars([], [("x", [])], "Nothing"), svg_lines([], [], "Nothing"),
                svg_heatmap([], [], [], "Nothing")):
        assert svg.startswith("<svg") and "no data in the selection" in svg
        assert 'class="bar"' not in svg and 'class="line"' not in svg


def test_builders_escape_text() -> None:
    svg = svg_bars(["<b>"], [("s&p", [1])], "A & <B>", x_label='"x"', y_label="y<")
    assert "A &amp; &lt;B&gt;" in svg and "&lt;b&gt;" in svg and "&quot;x&quot;" in svg
    assert "<b>" not in svg and "<B>" not in svg
    table = html_table(["camera", "n"], [["<i>cam</i>", "1,234"]], [False, True])
    assert "<td>&lt;i&gt;cam&lt;/i&gt;</td>" in table and "<td class=num>1,234</td>" in table
    cards = kpi_cards([("a<b", "1 & 2")])
    assert '<div class="value">1 &amp; 2</div><div class="label">a&lt;b</div>' in cards


def test_visitor_totals_and_peak() -> None:
    visitors = {"unique_visitors": 5, "repeat_visitors": 2,
                "periods": [{"new_visitors": 3}, {"new_visitors": 1}]}
    assert visitor_totals(visitors) == {"unique_visitors": 5, "repeat_visitors": 2,
                                        "new_visitors": 4, "returning_visitors": 1}
    occupancy = {"bucket": "hour", "series": [
        {"key": {}, "x": ["t0", "t1", "t2"], "max": [1, 5, 5], "mean": [0.5, 2.0, 3.0]}]}
    assert peak_occupancy(occupancy) == {"bucket_start": "t1", "max": 5, "mean": 2.0,
                                         "bucket": "hour"}
    assert peak_occupancy({"series": []}) is None


def test_dimension_label() -> None:
    assert dimension_label("weekday", 0) == "Mon" and dimension_label("weekday", 6) == "Sun"
    assert dimension_label("hour", 7) == "7" and dimension_label("zone", None) == "-"


def test_describe_filter() -> None:
    assert describe_filter({"from": None, "to": None, "by": "camera"}) == (
        "all data; sessions per camera")
    text = describe_filter({"from": dt.date(2026, 3, 1), "to": None, "cameras": ["a", "b"],
                            "zone": "z", "person": None, "attributes": {"gender": "f"},
                            "by": "zone"})
    assert text == ("from 2026-03-01 to the end; cameras a, b; zone z; gender = f; "
                    "sessions per zone")


def visits_csv(path: Path, days: int) -> Path:
    """One 10-minute visit a day at noon UTC (p1 every day, p<day> once), for ``days``."""
    lines = ["timestamp,camera_id,event_type,person_id"]
    start = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)
    for day in range(days):
        for person in ("p1", f"p-{day}"):
            enter = start + dt.timedelta(days=day)
            leave = enter + dt.timedelta(minutes=10)
            lines.append(f"{enter:%Y-%m-%dT%H:%M:%SZ},door,entry,{person}")
            lines.append(f"{leave:%Y-%m-%dT%H:%M:%SZ},door,exit,{person}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def report_of(path: Path) -> dict[str, object]:
    data = load_file(path, FileOptions(), {})
    return collect_report(DwellAnalytics(data.reader(), data.timezones), AnalyticsFilter())


def test_collect_report_short_range_is_hourly(tmp_path: Path) -> None:
    figures = report_of(visits_csv(tmp_path / "short.csv", 3))
    occupancy = figures["occupancy"]
    assert isinstance(occupancy, dict) and occupancy["bucket"] == "hour"
    assert figures["visitors"] == {"unique_visitors": 4, "repeat_visitors": 1,
                                   "new_visitors": 4, "returning_visitors": 0}
    histogram = figures["histogram"]
    assert isinstance(histogram, dict) and histogram["counts"] == [0, 0, 6, 0, 0, 0, 0, 0]
    heat = figures["heatmap"]
    assert isinstance(heat, list) and sum(map(sum, heat)) == 6
    assert heat[0][12] == 2 and heat[1][12] == 2 and heat[2][12] == 2  # Mon..Wed at noon
    page = render_report(figures, source="short.csv", generated="now")
    assert page.count("<svg") == 4 and "http" not in page
    assert '<div class="value">10m 0s</div><div class="label">median dwell</div>' in page
    assert '<div class="value">2</div><div class="label">peak occupancy</div>' in page


def test_collect_report_long_range_is_daily(tmp_path: Path) -> None:
    figures = report_of(visits_csv(tmp_path / "long.csv", 20))
    occupancy = figures["occupancy"]
    assert isinstance(occupancy, dict) and occupancy["bucket"] == "day"
    assert len(occupancy["series"][0]["x"]) == 20
    periods = figures["visitor_periods"]
    assert isinstance(periods, dict) and periods["period"] == "day"
    assert [p["returning_visitors"] for p in periods["rows"]] == [0] + [1] * 19
    page = render_report(figures)
    assert "Occupancy per local day" in page
    assert page.count('class="bar"') == 8 + 2 * 20  # histogram bins + stacked visitor bars


def test_collect_report_very_long_range_has_weekly_visitors(tmp_path: Path) -> None:
    figures = report_of(visits_csv(tmp_path / "season.csv", 130))
    periods = figures["visitor_periods"]
    assert isinstance(periods, dict) and periods["period"] == "week"
    weeks = [p["period"] for p in periods["rows"]]
    assert all(week.weekday() == 0 for week in weeks) and len(weeks) == 19
    assert sum(p["new_visitors"] for p in periods["rows"]) == 131  # p1 and one a day
    assert "Visitors per week" in render_report(figures)
