// One camera: events over time against the expected band with the anomalies on it, the
// anomalies of the range (acknowledge / false positive / reopen), the hour × weekday baseline
// and the object-type mix. Every time is the camera's local time.

import { actionFailure, actionsFor, applyAction } from "../anomaly-actions.js";
import { get } from "../api.js";
import { bars, heatmap, lines } from "../charts.js";
import { cardBody, empty, fill, h, section } from "../dom.js";
import { addDays, int, localMidnight, localTime, num, pct, WEEKDAYS } from "../format.js";
import { DEFAULT_DAYS } from "../filters.js";
import { navigate, routeHash, setParams } from "../router.js";

const HOUR_BUCKET_MAX_DAYS = 3; // ranges up to this many days are drawn per hour
const ACTIVITY_WEEKS = 4; // previous weeks the expected band uses
const WINDOW_CHOICES = [4, 8, 12, 26];
const ANOMALY_PAGE = 1000;
const MAX_ANOMALY_PAGES = 10;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
  "Dec"];
const HOURS = Array.from({ length: 24 }, (_, hour) => String(hour).padStart(2, "0"));
export async function render(root, ctx) {
  if (!ctx.arg) {
    pickSource(root, ctx);
    return;
  }
  const source = ctx.sources.find((s) => s.source_id === ctx.arg);
  if (!source) {
    root.append(h("h1", {}, "Camera"), h("div", { class: "state error", role: "alert",
      id: "unknown-source" }, h("p", {}, `There is no camera or source "${ctx.arg}". `,
      h("a", { href: "#/overview" }, "Go to the overview"), " to see the sources there are.")));
    return;
  }
  await drawCamera(root, ctx, source);
}

// ---- no camera chosen ------------------------------------------------------------------

function pickSource(root, ctx) {
  root.append(h("h1", {}, "Cameras"));
  if (!ctx.sources.length) {
    empty(root.appendChild(h("div", { id: "no-sources" })), "No cameras yet.",
      "Ingest events with ", h("code", {}, "vigil ingest events.csv"), ", POST them to ",
      h("code", {}, "/api/v1/events"), " or drop a CSV on the ",
      h("a", { href: "#/uploads" }, "Uploads"), " page; each camera then gets a page here.");
    return;
  }
  const keep = { from: ctx.params.from, to: ctx.params.to };
  root.append(h("section", { class: "card" }, h("h2", {}, "Pick a camera"),
    h("table", { id: "source-list" },
      h("thead", {}, h("tr", {}, h("th", {}, "Camera"), h("th", {}, "Time zone"),
        h("th", { class: "num" }, "Events stored"), h("th", {}, "Last event (its local time)"))),
      h("tbody", {}, ctx.sources.map((s) => h("tr", { "data-source": s.source_id },
        h("td", {}, h("a", { href: routeHash("camera", s.source_id, keep) }, s.source_id),
          s.area ? h("div", { class: "muted" }, s.area) : null),
        h("td", {}, s.timezone),
        h("td", { class: "num" }, int(s.event_count)),
        h("td", {}, localTime(s.last_seen, s.timezone))))))));
}

// ---- one camera --------------------------------------------------------------------------

async function drawCamera(root, ctx, source) {
  const id = source.source_id;
  const zone = source.timezone;
  const { from, to } = ctx.range;
  const days = dayCount(from, to);
  const bucket = days <= HOUR_BUCKET_MAX_DAYS ? "hour" : "day";
  const path = `/api/v1/cameras/${encodeURIComponent(id)}`;
  const start = localMidnight(from, zone);
  const end = localMidnight(addDays(to, 1), zone);
  const activity = get(`${path}/activity`, { from, to, bucket, weeks: ACTIVITY_WEEKS });
  const anomalies = fetchAnomalies(id, start, end);
  const baseline = get(`/api/v1/context/patterns/${encodeURIComponent(id)}`, {
    as_of: new Date(end.getTime() - 1000).toISOString(), window_weeks: windowWeeks(ctx.params),
  });

  root.append(heading(ctx, source, from, to));
  const tiles = root.appendChild(h("div", { class: "tiles", id: "camera-tiles" }));
  const timeline = cardBody(root, `Events over time, ${from} to ${to} — per local ${bucket} `
    + `(${zone}) with the expected band`, "timeline");
  const list = cardBody(root, "Anomalies in this range", "camera-anomalies");
  const busy = cardBody(root, "When this camera is normally busy", "heatmap");
  const mix = cardBody(root, "Object types", "object-mix");
  await Promise.all([
    section(tiles, async (el) => drawTiles(el, ...(await Promise.all([activity, anomalies,
      baseline])))),
    section(timeline, async (el) => drawTimeline(el, await activity, await anomalies, zone,
      latestRange(source, ctx.params))),
    section(list, async (el) => drawAnomalies(el, await anomalies, zone, root)),
    section(busy, async (el) => drawHeatmap(el, await baseline)),
    section(mix, async (el) => drawMix(el, await activity, await baseline, from, to)),
  ]);
}

function heading(ctx, source, from, to) {
  const keep = { ...ctx.params };
  const picker = h("select", { id: "camera-select", "aria-label": "Camera" },
    ctx.sources.map((s) => h("option", { value: s.source_id,
      selected: s.source_id === source.source_id }, s.source_id)));
  picker.addEventListener("change", () => navigate("camera", picker.value, keep));
  return h("header", { class: "camera-heading" },
    h("h1", {}, "Camera ", h("span", { id: "camera-name" }, source.source_id)),
    h("p", { class: "muted" },
      source.area ? `${source.area} · ` : "",
      "All times are the camera's local time, ", h("strong", { id: "camera-zone" },
        source.timezone), ` · showing ${from} to ${to} · `,
      h("label", {}, "switch to ", picker)));
}

function tile(value, label, id) {
  return h("div", { class: "tile", id },
    h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

function drawTiles(element, activity, anomalies, baseline) {
  const expected = activity.points.filter((p) => p.expected !== null);
  const sum = expected.reduce((total, p) => total + p.expected, 0);
  const open = anomalies.items.filter((a) => a.status === "open").length;
  fill(element,
    tile(int(activity.total), "events in this range", "tile-total"),
    tile(expected.length ? num(sum) : "–", expected.length === activity.points.length
      ? "expected from earlier weeks" : "expected (where earlier weeks exist)", "tile-expected"),
    tile(`${int(anomalies.items.length)}${anomalies.more ? "+" : ""}`,
      `anomalies (${int(open)} open)`, "tile-anomalies"),
    tile(num(baseline.average_events_per_day), "events per day, baseline", "tile-per-day"),
    tile(baseline.dominant_object_type || "–", "most seen object", "tile-dominant"),
    tile(h("span", { class: `badge ${baseline.status}` }, baseline.status), "baseline status",
      "tile-status"));
}

// ---- timeline ----------------------------------------------------------------------------

function drawTimeline(element, activity, anomalies, zone, latest) {
  const points = activity.points;
  const hasBand = points.some((p) => p.expected !== null);
  if (!points.length || (activity.total === 0 && !hasBand)) {
    empty(element, "No events from this camera in this range, and no earlier weeks to compare.",
      "Pick another range above, ", latest ? h("a", { href: latest, id: "latest-range" },
        "show its last days with data") : null, latest ? ", " : "",
      "or ingest events with ", h("code", {}, "vigil ingest"), ".");
    return;
  }
  const hourly = activity.bucket === "hour";
  const unit = hourly ? "events per hour" : "events per day";
  const markers = anomalies.items.map((a) => ({
    index: bucketIndex(points, a.window_start), severity: a.severity, id: a.anomaly_id,
    title: `${localTime(a.window_start, zone)} · ${a.severity}: ${a.explanation}`,
  }));
  const band = `expected range (same weekday${hourly ? " and hour" : ""}, `
    + `previous ${activity.weeks} weeks)`;
  fill(element);
  const svg = lines(element, {
    x: points.map((p) => shortLabel(p.start, hourly, points.length)),
    series: [{ name: "events", values: points.map((p) => p.count) }],
    band: hasBand ? { low: points.map((p) => p.low), high: points.map((p) => p.high),
      title: band } : undefined,
    markers, unit: "events",
    xLabel: `local ${hourly ? "hour" : "day"} (${zone})`, yLabel: unit,
    label: `${unit} at ${activity.source_id}, ${activity.from} to ${activity.to}`,
    titles: points.map((point) => pointTitle(point, hourly, zone)),
  });
  svg.id = "timeline-chart";
  svg.querySelectorAll("path.marker").forEach((marker) => {
    marker.style.cursor = "pointer";
    marker.addEventListener("click", () => showAnomaly(marker.dataset.anomaly));
  });
  for (const anomaly of anomalies.items) markerStatus(svg, anomaly);
  element.append(h("p", { class: "scale-note" },
    hasBand ? "" : "No expected band yet: it needs at least two earlier weeks of data. ",
    markers.length ? `▼ marks an anomaly at the ${activity.bucket} it began (colour = severity:`
      + " light blue low, orange medium, red high); click one to find it in the list below."
      : "No anomalies in this range."));
}

/** The index of the bucket holding ``iso`` (the first one when it began before the range). */
function bucketIndex(points, iso) {
  const at = Date.parse(iso);
  let found = 0;
  points.forEach((p, index) => {
    if (Date.parse(p.utc) <= at) found = index;
  });
  return found;
}

function pointTitle(point, hourly, zone) {
  const when = hourly
    ? `${dayText(point.start.slice(0, 10), true)} ${point.start.slice(11, 16)}–`
      + `${String((Number(point.start.slice(11, 13)) + 1) % 24).padStart(2, "0")}:00`
    : dayText(point.start.slice(0, 10), true);
  const expected = point.expected === null ? "no expectation yet (too few earlier weeks)"
    : `expected ${num(point.expected)} (usual range ${num(point.low)}–${num(point.high)})`;
  return `${when} (${zone}): ${int(point.count)} events; ${expected}`;
}

/** An axis label: "Fri 17 Apr" at midnight and "06:00" otherwise for hours; days by date. */
function shortLabel(start, hourly, count) {
  const date = start.slice(0, 10);
  if (hourly) {
    const hour = start.slice(11, 16);
    return hour === "00:00" ? dayText(date, false) : hour;
  }
  return count <= 10 ? dayText(date, false) : dayText(date, false).slice(4);
}

function dayText(date, withYear) {
  const [year, month, day] = date.split("-").map(Number);
  const weekday = WEEKDAYS[(new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7];
  return `${weekday} ${day} ${MONTHS[month - 1]}${withYear ? ` ${year}` : ""}`;
}

function markerStatus(svg, anomaly) {
  const marker = svg.querySelector(`path.marker[data-anomaly="${anomaly.anomaly_id}"]`);
  if (marker) marker.setAttribute("fill-opacity", anomaly.status === "open" ? "1" : "0.35");
}

function showAnomaly(id) {
  const row = document.getElementById(`anomaly-${id}`);
  if (!row) return;
  row.scrollIntoView({ behavior: "smooth", block: "center" });
  row.style.background = "#fff6d6";
  setTimeout(() => { row.style.background = ""; }, 2000);
}

// ---- anomalies ---------------------------------------------------------------------------

/** The anomalies of a source whose window meets [start, end), newest first. */
async function fetchAnomalies(sourceId, start, end) {
  const items = [];
  let before = null;
  for (let page = 0; page < MAX_ANOMALY_PAGES; page += 1) {
    const answer = await get("/api/v1/anomalies", { source_id: sourceId,
      start: start.toISOString(), end: end.toISOString(), limit: ANOMALY_PAGE,
      before_id: before });
    items.push(...answer.anomalies);
    before = answer.next_before_id;
    if (before === null || before === undefined) return { items, more: false };
  }
  return { items, more: true };
}

function drawAnomalies(element, anomalies, zone, root) {
  if (!anomalies.items.length) {
    empty(element, "No anomalies at this camera in this range.",
      "Anomalies are scored as events arrive. Widen the range above, or see every camera's on ",
      "the ", h("a", { href: "#/anomalies" }, "Anomalies"), " page.");
    return;
  }
  fill(element,
    h("table", { id: "anomaly-table" },
      h("thead", {}, h("tr", {}, h("th", {}, `When (${zone})`), h("th", {}, "What"),
        h("th", {}, "Explanation"), h("th", {}, "Severity"), h("th", {}, "Status"),
        h("th", {}, "Actions"))),
      h("tbody", {}, anomalies.items.map((a) => anomalyRow(a, zone, root)))),
    anomalies.more ? h("p", { class: "muted" }, `Showing the newest ${int(anomalies.items
      .length)}; narrow the range to see older ones.`) : null);
}

function anomalyRow(anomaly, zone, root) {
  const row = h("tr", { id: `anomaly-${anomaly.anomaly_id}`,
    dataset: { anomalyId: anomaly.anomaly_id, status: anomaly.status } });
  const status = h("td", { class: "status-cell" });
  const actions = h("td", {});
  let shown = anomaly;
  const draw = (current) => {
    shown = current;
    row.dataset.status = current.status;
    fill(status, h("span", { class: `badge ${current.status}`, "data-role": "status" },
      current.status.replace("_", " ")));
    fill(actions, h("div", { class: "actions" }, actionsFor(current.status).map((action) =>
      h("button", { type: "button", class: action.path === "ack" ? null : "secondary",
        "data-action": action.path, onclick: () => act(action) }, action.title))));
  };
  const act = async (action) => {
    for (const button of actions.querySelectorAll("button")) button.disabled = true;
    try {
      const updated = await applyAction(anomaly.anomaly_id, action);
      draw(updated);
      const svg = root.querySelector("#timeline-chart");
      if (svg) markerStatus(svg, updated);
    } catch (error) {
      draw(shown);
      actions.append(h("p", { class: "error", role: "alert", "data-role": "action-error" },
        actionFailure(error, action, () => act(action))));
    }
  };
  draw(anomaly);
  const end = anomaly.window_end && anomaly.window_end !== anomaly.window_start
    ? ` – ${localTime(anomaly.window_end, zone).slice(11)}` : "";
  row.append(
    h("td", {}, `${localTime(anomaly.window_start, zone)}${end}`),
    h("td", {}, (anomaly.type || anomaly.anomaly_type || "").replace("_", "\u00a0"),
      anomaly.label ? h("div", { class: "muted" }, anomaly.label) : null),
    h("td", {}, h("p", { class: "explanation" }, anomaly.explanation),
      h("div", { class: "muted" }, `score ${num(anomaly.score)}`)),
    h("td", {}, h("span", { class: `badge ${anomaly.severity}`, "data-role": "severity" },
      anomaly.severity)),
    status, actions);
  return row;
}

// ---- baseline ----------------------------------------------------------------------------

function drawHeatmap(element, baseline) {
  const window = baseline.window;
  const choice = h("select", { id: "baseline-weeks", "aria-label": "Baseline window" },
    WINDOW_CHOICES.concat(WINDOW_CHOICES.includes(window.weeks) ? [] : [window.weeks])
      .sort((a, b) => a - b).map((weeks) => h("option", { value: weeks,
        selected: weeks === window.weeks }, `${weeks} weeks`)));
  choice.addEventListener("change", () => setParams({ weeks: choice.value }));
  const since = baseline.first_event_at ? localTime(baseline.first_event_at, baseline.timezone)
    .slice(0, 10) : null;
  const intro = h("p", { class: "muted", id: "baseline-window" },
    `Baseline of the ${window.weeks} weeks ${window.start} to ${window.end} `,
    since && since > window.end ? `(this camera's data starts ${since}) `
      : since && since > window.start ? `(data from ${since}) ` : "",
    "· window ", choice, " · ",
    h("span", { class: `badge ${baseline.status}` }, baseline.status));
  if (!baseline.total_events) {
    fill(element, intro);
    element.append(empty(h("div"), "No events in this baseline window.",
      "Pick a range that ends later (the baseline ends with the range), a longer window, or ",
      "ingest this camera's events with ", h("code", {}, "vigil ingest"), "."));
    return;
  }
  fill(element, intro);
  const chart = h("div", { id: "heatmap-chart" });
  element.append(chart);
  heatmap(chart, { rows: WEEKDAYS, cols: HOURS, values: baseline.hour_weekday_matrix,
    unit: `events in ${window.weeks} weeks`, xLabel: `local hour (${baseline.timezone})`,
    yLabel: "weekday", label: `events per local hour and weekday over ${window.weeks} weeks` });
  element.append(h("dl", { id: "baseline-summary", class: "summary" },
    summaryItem("Busiest hours", hourRanges(baseline.peak_hours)),
    summaryItem("Quiet hours", hourRanges(baseline.quiet_hours)),
    summaryItem("Events per day", num(baseline.average_events_per_day))));
}

function summaryItem(term, value) {
  return h("div", { style: "display:inline-block;margin-right:24px" },
    h("dt", { class: "muted", style: "font-size:13px" }, term),
    h("dd", { style: "margin:0" }, value));
}

/** Hours as local ranges: [0,1,2,22,23] → "22:00–03:00"; none → "none". */
export function hourRanges(hours) {
  if (!hours || !hours.length) return "none";
  const set = new Set(hours);
  if (set.size === 24) return "all day";
  const starts = [...set].filter((hour) => !set.has((hour + 23) % 24)).sort((a, b) => a - b);
  return starts.map((first) => {
    let last = first;
    while (set.has((last + 1) % 24)) last = (last + 1) % 24;
    return `${HOURS[first]}:00–${HOURS[(last + 1) % 24]}:00`;
  }).join(", ");
}

function drawMix(element, activity, baseline, from, to) {
  const range = activity.labels || {};
  const usual = baseline.object_type_distribution || {};
  const categories = [...new Set([...Object.keys(range), ...Object.keys(usual)])]
    .sort((a, b) => (range[b] || 0) - (range[a] || 0) || (usual[b] || 0) - (usual[a] || 0)
      || a.localeCompare(b));
  if (!categories.length) {
    empty(element, "No object types to show: no labelled events in this range or baseline.",
      "Events need a label (person, car…); pick another range above or ingest events.");
    return;
  }
  const rangeTotal = Object.values(range).reduce((a, b) => a + b, 0);
  const usualTotal = Object.values(usual).reduce((a, b) => a + b, 0);
  const share = (counts, total) => categories.map((c) => (total ? (counts[c] || 0) / total : 0));
  const rangeName = `${from} to ${to}`;
  const usualName = `baseline ${baseline.window.start} to ${baseline.window.end}`;
  const chart = h("div", { id: "object-mix-chart" });
  fill(element, h("p", { class: "muted" }, "Share of each object type: this range next to ",
    "the baseline window."), chart);
  const svg = bars(chart, {
    categories, format: pct, xLabel: "object type", yLabel: "share of events (%)",
    series: [{ name: rangeName, values: share(range, rangeTotal) },
      { name: usualName, values: share(usual, usualTotal) }],
    label: "share of events per object type, this range and the baseline", height: 200,
  });
  const sources = [[range, rangeTotal, "this range"], [usual, usualTotal, "the baseline"]];
  svg.querySelectorAll("rect.bar").forEach((bar, index) => {
    const category = categories[Math.floor(index / 2)];
    const [counts, total, name] = sources[index % 2];
    bar.dataset.series = index % 2 ? "baseline" : "range";
    bar.dataset.count = counts[category] || 0;
    bar.querySelector("title").textContent = `${category}: ${num(counts[category] || 0)} of `
      + `${num(total)} events in ${name} (${pct(total ? (counts[category] || 0) / total : 0)})`;
  });
}

// ---- helpers -----------------------------------------------------------------------------

/** The route of the camera's last ``DEFAULT_DAYS`` local days with events, if it has any. */
function latestRange(source, params) {
  if (!source.last_seen) return null;
  const to = localTime(source.last_seen, source.timezone).slice(0, 10);
  return routeHash("camera", source.source_id,
    { ...params, from: addDays(to, -(DEFAULT_DAYS - 1)), to });
}

function windowWeeks(params) {
  const weeks = Number(params.weeks);
  return Number.isInteger(weeks) && weeks >= 1 && weeks <= 520 ? weeks : undefined;
}

function dayCount(from, to) {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 864e5) + 1;
}
