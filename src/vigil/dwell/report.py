"""A self-contained HTML report of dwell times, occupancy and visitors.

The page has inline CSS and inline SVG charts drawn here in Python: no script, no external
URL, no font to download, so it opens offline. Charts and tables are small pure functions
over plain lists (:func:`svg_bars`, :func:`svg_lines`, :func:`svg_heatmap`,
:func:`html_table`, :func:`kpi_cards`); :func:`collect_report` gathers the figures from a
:class:`~vigil.dwell.analytics.DwellAnalytics` and :func:`render_report` assembles the page.
Every piece of text is escaped.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from vigil.dwell.analytics import DwellAnalytics
from vigil.dwell.filters import AnalyticsFilter
from vigil.dwell.pairing import STATUSES

__all__ = [
    "HISTOGRAM_EDGES_MIN",
    "STATUS_LABELS",
    "WEEKDAYS",
    "collect_report",
    "describe_filter",
    "dimension_label",
    "dwell_table",
    "format_duration",
    "html_table",
    "kpi_cards",
    "nice_ceiling",
    "peak_occupancy",
    "render_report",
    "svg_bars",
    "svg_heatmap",
    "svg_lines",
    "visitor_totals",
]

HISTOGRAM_EDGES_MIN = (0, 1, 5, 15, 30, 60, 120, 240)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
DAILY_OCCUPANCY_AFTER_DAYS = 14  # longer ranges: occupancy per local day, not per hour
WEEKLY_VISITORS_AFTER_DAYS = 120  # longer ranges: visitors per week, not per day
COLORS = ("#2f6db5", "#e08a2c", "#3a9a5b", "#b04a7c")
STATUS_LABELS = {"complete": "complete", "open": "open", "timed_out": "timed out",
                 "orphan_exit": "orphan exits"}

NICE_STEPS = (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
SESSION_CARDS = {"complete": "complete sessions", "open": "open sessions",
                 "timed_out": "timed-out sessions", "orphan_exit": "orphan exits"}
Series = tuple[str, Sequence[float]]

# chart geometry (SVG user units)
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 48, 56


# -- formatting ------------------------------------------------------------------------------
def format_duration(ms: float | None) -> str:
    """A duration for people: ``45s``, ``12m 30s``, ``2h 5m``, ``1d 3h``; ``-`` for none."""
    if ms is None:
        return "-"
    seconds = int(round(ms / 1000))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def nice_ceiling(value: float) -> float:
    """The smallest of :data:`NICE_STEPS` times a power of ten that is at least ``value``
    (1 for 0): the top of a value axis."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in NICE_STEPS:
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10 * power


def _num(value: float) -> str:
    """A coordinate with one decimal."""
    return f"{value:.1f}"


def _tick(value: float) -> str:
    """An axis tick: whole numbers without decimals."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2g}"


def dimension_label(dimension: str, value: Any) -> str:
    """A grouping dimension's value for people: ``-`` for none, weekday 0 is ``Mon``."""
    if value is None:
        return "-"
    return WEEKDAYS[int(value)] if dimension == "weekday" else str(value)


def describe_filter(flt: Mapping[str, Any]) -> str:
    """The filter of an analytics answer (its ``filter`` dict) in one line."""
    parts = []
    start, end = flt.get("from"), flt.get("to")
    if start is not None or end is not None:
        parts.append(f"from {_when(start) if start is not None else 'the start'} "
                     f"to {_when(end) if end is not None else 'the end'}")
    if flt.get("cameras"):
        parts.append("cameras " + ", ".join(str(c) for c in flt["cameras"]))
    if flt.get("zone") is not None:
        parts.append(f"zone {flt['zone']}")
    if flt.get("person") is not None:
        parts.append(f"person {flt['person']}")
    for key, value in sorted((flt.get("attributes") or {}).items()):
        parts.append(f"{key} = {value}")
    parts.append(f"sessions per {flt.get('by', 'camera')}")
    return ("all data; " if start is None and end is None else "") + "; ".join(parts)


def _when(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)


# -- figures derived from the analytics answers ----------------------------------------------
def visitor_totals(visitors: Mapping[str, Any]) -> dict[str, int]:
    """Unique, repeat, new and returning visitors of a ``DwellAnalytics.visitors`` answer
    (without grouping): a person is new when their first visit ever falls in the range."""
    new = sum(int(p["new_visitors"]) for p in visitors["periods"])
    unique = int(visitors["unique_visitors"])
    return {"unique_visitors": unique, "repeat_visitors": int(visitors["repeat_visitors"]),
            "new_visitors": new, "returning_visitors": unique - new}


def peak_occupancy(occupancy: Mapping[str, Any]) -> dict[str, Any] | None:
    """The overall series' bucket with the highest maximum (the first such), or ``None``."""
    overall = next((s for s in occupancy.get("series", []) if not s["key"]), None)
    if overall is None or not overall["max"]:
        return None
    peak = max(range(len(overall["max"])), key=lambda i: overall["max"][i])
    return {"bucket_start": overall["x"][peak], "max": overall["max"][peak],
            "mean": overall["mean"][peak], "bucket": occupancy.get("bucket")}


def collect_report(analytics: DwellAnalytics, flt: AnalyticsFilter,
                   group_by: tuple[str, ...] = ("camera",),
                   limit: int | None = None) -> dict[str, Any]:
    """Every figure of the report, as plain data."""
    kpis = analytics.kpis(flt)
    visitors = analytics.visitors(flt, "day")
    span = _span_days(flt, visitors["periods"])
    by_week = span > WEEKLY_VISITORS_AFTER_DAYS
    chart_visitors = analytics.visitors(flt, "week") if by_week else visitors
    bucket = "day" if span > DAILY_OCCUPANCY_AFTER_DAYS else "hour"
    edges = tuple(m * 60_000 for m in HISTOGRAM_EDGES_MIN)
    heat = analytics.dwell(flt, ("weekday", "hour"))
    matrix = [[0] * 24 for _ in WEEKDAYS]
    for row in heat["rows"]:
        matrix[int(row["weekday"])][int(row["hour"])] += sum(int(row[s]) for s in STATUSES)
    return {
        "filter": kpis["filter"],
        "kpis": kpis["kpis"],
        "visitors": visitor_totals(visitors),
        "visitor_periods": {"period": "week" if by_week else "day",
                            "rows": chart_visitors["periods"]},
        "histogram": analytics.histogram(flt, edges),
        "occupancy": analytics.occupancy(flt, bucket),
        "heatmap": matrix,
        "dwell": analytics.dwell(flt, group_by, limit),
    }


def _span_days(flt: AnalyticsFilter, periods: Sequence[Mapping[str, Any]]) -> int:
    """Days the report covers: the filter's dates where given, else the visit days'."""
    days = [p["period"] for p in periods]
    first = flt.start_date or (flt.start.date() if flt.start else None) or min(days, default=None)
    last = flt.end_date or (flt.end.date() if flt.end else None) or max(days, default=None)
    if first is None or last is None:
        return 0
    return int((last - first).days) + 1


# -- SVG charts ------------------------------------------------------------------------------
def _svg_open(title: str, description: str, ident: str, width: int = WIDTH,
              height: int = HEIGHT) -> list[str]:
    return [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
            f'height="{height}" role="img" aria-labelledby="{ident}-t {ident}-d">',
            f'<title id="{ident}-t">{escape(title)}</title>',
            f'<desc id="{ident}-d">{escape(description)}</desc>',
            f'<text class="title" x="{LEFT}" y="22">{escape(title)}</text>']


def _y_axis(top_value: float, x_label: str, y_label: str, width: int = WIDTH,
            height: int = HEIGHT) -> list[str]:
    """Grid lines with ticks at fifths of ``top_value``, and both axis titles."""
    parts = []
    plot_h = height - TOP - BOTTOM
    for i in range(6):
        value = top_value * i / 5
        y = TOP + plot_h - plot_h * i / 5
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{_num(y)}" x2="{width - RIGHT}" '
                     f'y2="{_num(y)}"/>')
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{_num(y + 4)}" '
                     f'text-anchor="end">{escape(_tick(value))}</text>')
    parts.append(f'<text class="axis" x="{(LEFT + width - RIGHT) / 2:.1f}" y="{height - 8}" '
                 f'text-anchor="middle">{escape(x_label)}</text>')
    mid = TOP + plot_h / 2
    parts.append(f'<text class="axis" x="14" y="{_num(mid)}" text-anchor="middle" '
                 f'transform="rotate(-90 14 {_num(mid)})">{escape(y_label)}</text>')
    return parts


def _x_labels(labels: Sequence[str], centers: Sequence[float], height: int = HEIGHT) -> list[str]:
    """Evenly spaced labels under the plot, as many as fit without overlapping."""
    widest = max(len(label) for label in labels) * 6.6 + 14  # 11px text
    most = max(1, int((WIDTH - LEFT - RIGHT) // widest))
    step = max(1, math.ceil(len(labels) / most))
    y = height - BOTTOM + 16
    return [f'<text class="tick" x="{_num(centers[i])}" y="{y}" text-anchor="middle">'
            f'{escape(labels[i])}</text>' for i in range(0, len(labels), step)]


def _legend(names: Sequence[str]) -> list[str]:
    """Colour keys in a row under the title."""
    parts = []
    x = float(LEFT)
    for i, name in enumerate(names):
        parts.append(f'<rect x="{_num(x)}" y="30" width="11" height="11" '
                     f'fill="{COLORS[i % len(COLORS)]}"/>')
        parts.append(f'<text class="legend" x="{_num(x + 15)}" y="40">{escape(name)}</text>')
        x += 15 + 7 * len(name) + 18
    return parts


def _empty(title: str, ident: str) -> str:
    parts = _svg_open(title, "no data in the selection", ident, height=90)
    parts.append(f'<text class="empty" x="{LEFT}" y="60">no data in the selection</text>')
    return "\n".join([*parts, "</svg>"])


def svg_bars(labels: Sequence[str], series: Sequence[Series], title: str, *,
             x_label: str = "", y_label: str = "", ident: str = "bars") -> str:
    """Vertical bars, one per label; several series are stacked (first at the bottom).
    Every value gets a ``rect.bar`` (height 0 for 0) with a ``<title>`` tooltip."""
    if not labels or not series:
        return _empty(title, ident)
    totals = [sum(float(s[1][i]) for s in series) for i in range(len(labels))]
    top_value = nice_ceiling(max(totals))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(labels)
    bar_w = max(slot * 0.8, 0.5)
    centers = [LEFT + slot * (i + 0.5) for i in range(len(labels))]
    description = f"{len(labels)} bars" + (
        f", stacked: {', '.join(name for name, _ in series)}" if len(series) > 1 else "")
    parts = _svg_open(title, description, ident)
    parts += _y_axis(top_value, x_label, y_label)
    for i, label in enumerate(labels):
        base = 0.0
        for k, (name, values) in enumerate(series):
            value = float(values[i])
            h = plot_h * value / top_value
            y = TOP + plot_h - plot_h * base / top_value - h
            tip = f"{label}: {_tick(value)}" + (f" {name}" if len(series) > 1 else "")
            parts.append(f'<rect class="bar" x="{_num(centers[i] - bar_w / 2)}" y="{_num(y)}" '
                         f'width="{_num(bar_w)}" height="{_num(h)}" '
                         f'fill="{COLORS[k % len(COLORS)]}"><title>{escape(tip)}</title></rect>')
            base += value
    parts += _x_labels(labels, centers)
    if len(series) > 1:
        parts += _legend([name for name, _ in series])
    return "\n".join([*parts, "</svg>"])


def svg_lines(labels: Sequence[str], series: Sequence[Series], title: str, *,
              x_label: str = "", y_label: str = "", ident: str = "lines") -> str:
    """One ``polyline.line`` per series over the labels (one point per value)."""
    if not labels or not series:
        return _empty(title, ident)
    top_value = nice_ceiling(max(float(v) for _, values in series for v in values))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(labels) - 1, 1)
    xs = [LEFT + step * i for i in range(len(labels))]
    parts = _svg_open(title, f"{len(series)} lines over {len(labels)} points: "
                      f"{', '.join(name for name, _ in series)}", ident)
    parts += _y_axis(top_value, x_label, y_label)
    for k, (name, values) in enumerate(series):
        points = " ".join(f"{_num(x)},{_num(TOP + plot_h - plot_h * float(v) / top_value)}"
                          for x, v in zip(xs, values, strict=True))
        parts.append(f'<polyline class="line" fill="none" stroke="{COLORS[k % len(COLORS)]}" '
                     f'stroke-width="2" points="{points}"><title>{escape(name)}</title>'
                     f'</polyline>')
    parts += _x_labels(labels, xs)
    parts += _legend([name for name, _ in series])
    return "\n".join([*parts, "</svg>"])


def svg_heatmap(row_labels: Sequence[str], col_labels: Sequence[str],
                matrix: Sequence[Sequence[float]], title: str, *, unit: str = "",
                x_label: str = "", ident: str = "heat") -> str:
    """A grid of ``rect.cell``, one per value; the colour's opacity is value / maximum."""
    if not row_labels or not col_labels:
        return _empty(title, ident)
    top_value = max((float(v) for row in matrix for v in row), default=0.0) or 1.0
    cell_w = (WIDTH - LEFT - RIGHT) / len(col_labels)
    cell_h = 24.0
    height = int(TOP + cell_h * len(row_labels) + 44)
    parts = _svg_open(title, f"{len(row_labels)} rows by {len(col_labels)} columns; darker "
                      f"is more (at most {_tick(top_value)}{' ' + unit if unit else ''})",
                      ident, height=height)
    for r, row_label in enumerate(row_labels):
        y = TOP + cell_h * r
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{_num(y + cell_h / 2 + 4)}" '
                     f'text-anchor="end">{escape(row_label)}</text>')
        for c, col_label in enumerate(col_labels):
            value = float(matrix[r][c])
            tip = f"{row_label} {col_label}: {_tick(value)}{' ' + unit if unit else ''}"
            parts.append(f'<rect class="cell" x="{_num(LEFT + cell_w * c)}" y="{_num(y)}" '
                         f'width="{_num(cell_w - 1)}" height="{_num(cell_h - 1)}" '
                         f'fill="{COLORS[0]}" fill-opacity="{value / top_value:.3f}">'
                         f'<title>{escape(tip)}</title></rect>')
    label_y = TOP + cell_h * len(row_labels) + 16
    for c, col_label in enumerate(col_labels):
        parts.append(f'<text class="tick" x="{_num(LEFT + cell_w * (c + 0.5))}" '
                     f'y="{_num(label_y)}" text-anchor="middle">{escape(col_label)}</text>')
    parts.append(f'<text class="axis" x="{(LEFT + WIDTH - RIGHT) / 2:.1f}" '
                 f'y="{height - 6}" text-anchor="middle">{escape(x_label)}</text>')
    parts.append(f'<text class="legend" x="{LEFT}" y="40">darker is more: the darkest cell '
                 f'is {escape(_tick(top_value))}{escape(" " + unit if unit else "")}</text>')
    return "\n".join([*parts, "</svg>"])


# -- HTML pieces -----------------------------------------------------------------------------
def kpi_cards(cards: Sequence[tuple[str, str]]) -> str:
    """KPI cards: (label, value) pairs."""
    items = "".join(f'<div class="card"><div class="value">{escape(value)}</div>'
                    f'<div class="label">{escape(label)}</div></div>' for label, value in cards)
    return f'<div class="cards">{items}</div>'


def html_table(columns: Sequence[str], rows: Sequence[Sequence[Any]],
               numeric: Sequence[bool] | None = None) -> str:
    """A table; ``numeric`` columns are right-aligned."""
    align = numeric or [False] * len(columns)
    head = "".join(f'<th{" class=num" if a else ""}>{escape(str(c))}</th>'
                   for c, a in zip(columns, align, strict=True))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if a else ""}>{escape(str(v))}</td>'
                                    for v, a in zip(row, align, strict=True)) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _kpi_list(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    kpis, visitors = data["kpis"], data["visitors"]
    sessions = kpis["sessions"]
    peak = peak_occupancy(data["occupancy"])
    return [
        ("unique visitors", f"{visitors['unique_visitors']:,}"),
        ("repeat visitors", f"{visitors['repeat_visitors']:,}"),
        ("new / returning", f"{visitors['new_visitors']:,} / "
                            f"{visitors['returning_visitors']:,}"),
        ("events processed", f"{kpis['events_processed']:,}"),
        ("cameras with activity", f"{kpis['cameras_with_activity']:,}"),
        *((label, f"{sessions[s]:,}") for s, label in SESSION_CARDS.items()),
        ("average dwell per person", format_duration(kpis["average_dwell_per_person_ms"])),
        ("median dwell", format_duration(kpis["median_dwell_ms"])),
        ("max dwell", format_duration(kpis["max_dwell_ms"])),
        ("peak occupancy", "-" if peak is None else f"{peak['max']:,}"),
    ]


def dwell_table(dwell: Mapping[str, Any]) -> str:
    """The dwell statistics per group as an HTML table."""
    dims = list(dwell["group_by"])
    columns = [*dims, *(STATUS_LABELS[s] for s in STATUSES), "persons", "mean", "median",
               "p90", "max"]
    rows = [[*(dimension_label(d, row[d]) for d in dims),
             *(f"{row[s]:,}" for s in STATUSES), f"{row['persons']:,}",
             *(format_duration(row[k]) for k in ("mean_ms", "median_ms", "p90_ms", "max_ms"))]
            for row in dwell["rows"]]
    return html_table(columns, rows, [False] * len(dims) + [True] * (len(columns) - len(dims)))


def _histogram_labels(edges_ms: Sequence[int]) -> list[str]:
    minutes = [int(e) // 60_000 for e in edges_ms]
    return [f"{a}–{b} min" for a, b in zip(minutes, minutes[1:], strict=False)] + [
        f"{minutes[-1]}+ min"]


def _short_time(iso: str, bucket: str) -> str:
    moment = dt.datetime.fromisoformat(iso)
    return moment.strftime("%m-%d") if bucket == "day" else moment.strftime("%m-%d %H:00")


def _charts(data: Mapping[str, Any]) -> list[str]:
    histogram = data["histogram"]
    occupancy = data["occupancy"]
    overall = next((s for s in occupancy["series"] if not s["key"]), None)
    bucket = occupancy["bucket"]
    per = "hour" if bucket == "hour" else "local day"
    occupancy_svg = svg_lines(
        [_short_time(x, bucket) for x in overall["x"]] if overall else [],
        [(f"max per {per}", overall["max"]), (f"mean per {per}", overall["mean"])]
        if overall else [],
        f"Occupancy per {per} (people present, {occupancy['timezone']})",
        x_label=f"{per} starting ({occupancy['timezone']})", y_label="people present",
        ident="occupancy")
    periods = data["visitor_periods"]
    visitor_svg = svg_bars(
        [str(p["period"])[5:] for p in periods["rows"]],
        [("new", [p["new_visitors"] for p in periods["rows"]]),
         ("returning", [p["returning_visitors"] for p in periods["rows"]])],
        f"Visitors per {periods['period']}: new and returning",
        x_label=f"local {periods['period']}" + (" (Monday)" if periods["period"] == "week"
                                                 else ""),
        y_label="visitors", ident="visitors")
    return [
        svg_bars(_histogram_labels(histogram["edges_ms"]),
                 [("complete sessions", histogram["counts"])],
                 "Dwell time of complete sessions", x_label="dwell time",
                 y_label="complete sessions", ident="histogram"),
        occupancy_svg,
        visitor_svg,
        svg_heatmap(WEEKDAYS, [f"{h:02d}" for h in range(24)], data["heatmap"],
                    "Sessions by local weekday and hour of entry", unit="sessions",
                    x_label="local hour of entry", ident="heatmap"),
    ]


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
margin:24px auto;max-width:800px;color:#1d2430;background:#fff;padding:0 16px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.2em;margin:28px 0 8px}
.meta{color:#566070;margin:2px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{border:1px solid #d5dbe3;border-radius:6px;padding:10px 12px;min-width:130px;flex:1}
.card .value{font-size:1.4em;font-weight:600}.card .label{color:#566070;font-size:.85em}
.chart{display:block;max-width:100%;height:auto;margin:12px 0}
.chart .title{font-size:15px;font-weight:600;fill:#1d2430}
.chart .tick{font-size:11px;fill:#566070}.chart .axis{font-size:12px;fill:#1d2430}
.chart .legend{font-size:12px;fill:#1d2430}.chart .empty{font-size:13px;fill:#566070}
.chart .grid{stroke:#e4e8ee;stroke-width:1}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border-bottom:1px solid #e4e8ee;padding:4px 6px;text-align:left}
th.num,td.num{text-align:right}th{background:#f4f6f9}
.notes{color:#566070;font-size:.85em}
"""


def render_report(data: Mapping[str, Any], *, title: str = "Dwell, occupancy and visitors",
                  source: str = "", generated: str = "") -> str:
    """The whole page from :func:`collect_report`'s data."""
    dwell = data["dwell"]
    shown = len(dwell["rows"])
    more = (f"<p class=notes>{shown:,} of {dwell['total_groups']:,} groups shown.</p>"
            if dwell["total_groups"] > shown else "")
    meta = [f"<p class=meta>Selection: {escape(describe_filter(data['filter']))}</p>"]
    if source:
        meta.append(f"<p class=meta>Data: {escape(source)}</p>")
    if generated:
        meta.append(f"<p class=meta>Generated: {escape(generated)}</p>")
    by = ", ".join(dwell["group_by"]) or "all"
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>", *meta,
        "<h2>Key figures</h2>", kpi_cards(_kpi_list(data)),
        "<h2>Charts</h2>", *_charts(data),
        f"<h2>Dwell per {escape(by)}</h2>", dwell_table(dwell), more,
        "<p class=notes>Dwell statistics use complete sessions only; open, timed-out and "
        "orphan-exit sessions are counted but excluded. A session belongs to the local day "
        "(and hour) of its entry. Occupancy counts complete and open sessions.</p>",
        "</body></html>", ""])
