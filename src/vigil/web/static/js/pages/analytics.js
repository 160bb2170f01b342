// Analytics: visitor KPIs, the dwell-time histogram, occupancy over time, new and returning
// visitors per day, and the same figures per camera, zone or attribute (when the visits
// carry attributes: GET /api/v1/analytics/attributes lists them). Range and source come
// from the filter bar; group by, occupancy bucket and visitor period are page filters kept
// in the URL.

import { get } from "../api.js";
import { bars, lines } from "../charts.js";
import { cardBody, empty, failed, fill, h, loading, section } from "../dom.js";
import { addDays, duration, int, num, pct } from "../format.js";
import { routeHash, setParams } from "../router.js";

const BUCKETS = { "5min": "5 minutes", "15min": "15 minutes", "30min": "30 minutes",
  hour: "hour", day: "day" };
const PERIODS = { day: "day", week: "week", month: "month" };
const MAX_ATTRIBUTE_VALUES = 50; // more distinct values than this: not offered as a grouping
const MAX_LINES = 8; // lines in one chart: the palette's colours
const MAX_GROUP_ROWS = 100;

export async function render(root, ctx) {
  root.append(h("h1", {}, "Analytics"), h("p", { class: "muted" },
    "Visits are paired entry and exit events of a person; days are each camera's local days."));
  if (!ctx.sources.length) {
    noVisits(root.appendChild(h("div", { id: "analytics-empty" })), "No events yet.");
    return;
  }
  const view = viewOf(ctx);
  const head = root.appendChild(h("div"));
  loading(head);
  let kpis;
  let attributes;
  try {
    [kpis, attributes] = await Promise.all([view.get("kpis"), attributeNames(view)]);
  } catch (error) {
    console.warn("analytics failed:", error);
    failed(head, error);
    return;
  }
  const k = kpis.kpis;
  if (k.complete_sessions + k.incomplete_sessions === 0) {
    head.id = "analytics-empty";
    noVisits(head, `No visits between ${view.from} and ${view.to}${view.source
      ? ` at ${view.source}` : ""}.`);
    return;
  }
  fill(head, controls(view, attributes));
  const tiles = root.appendChild(h("div", { class: "tiles", id: "kpi-tiles" }));
  const dwell = cardBody(root, "Dwell time (complete visits)", "dwell");
  const occupancy = withChoice(cardBody(root, "Occupancy over time", "occupancy"),
    "Bucket ", "occupancy-bucket", BUCKETS, view.bucket, "bucket");
  const visitors = withChoice(cardBody(root,
    `Visitors per ${PERIODS[view.period]}: new and returning`, "visitors"),
  "Per ", "visitors-period", PERIODS, view.period, "period");
  const frequency = cardBody(root, "How often visitors came", "frequency");
  const groups = cardBody(root, view.groupBy ? `By ${groupName(view.groupBy)}` : "Groups",
    "groups");
  await Promise.all([
    section(tiles, (el) => drawTiles(el, view, kpis)),
    section(dwell, (el) => drawDwell(el, view)),
    section(occupancy, (el) => drawOccupancy(el, view)),
    section(visitors, (el) => drawVisitors(el, view)),
    section(frequency, (el) => drawFrequency(el, view)),
    view.groupBy ? section(groups, (el) => drawGroups(el, view))
      : fill(groups, h("p", { class: "muted", id: "groups-hint" },
        "Pick a grouping above (camera, zone or an attribute) to compare the figures.")),
  ]);
}

/** The empty state: what kind of events analytics needs, and how to load them. */
function noVisits(element, message) {
  empty(element, message,
    "Dwell, occupancy and visitor figures need person entry and exit events (event_type ",
    h("code", {}, "entry"), " / ", h("code", {}, "exit"), " with a ", h("code", {}, "person_id"),
    "). Upload a camera export on the ", h("a", { href: "#/uploads" }, "Uploads"),
    " page, or run ", h("code", {}, "vigil ingest events.csv"),
    "; if you have them already, pick another range or source above.");
}

/** What the page shows, from the URL: range, source, grouping, bucket and period. */
function viewOf(ctx) {
  const { from, to } = ctx.range;
  const days = Math.round((Date.parse(to) - Date.parse(from)) / 86_400_000) + 1;
  const source = ctx.params.source || null;
  const base = { from, to, camera: source };
  const cache = new Map();
  return {
    from, to, days, source, base,
    groupBy: ctx.params.group_by || null,
    bucket: BUCKETS[ctx.params.bucket] ? ctx.params.bucket : defaultBucket(days),
    period: PERIODS[ctx.params.period] ? ctx.params.period : "day",
    /** GET an analytics endpoint once per render, whoever asks. */
    get(endpoint, extra = {}) {
      const params = { ...base, ...extra };
      const key = `${endpoint} ${JSON.stringify(params)}`;
      if (!cache.has(key)) cache.set(key, get(`/api/v1/analytics/${endpoint}`, params));
      return cache.get(key);
    },
  };
}

function defaultBucket(days) {
  if (days <= 2) return "15min";
  return days <= 14 ? "hour" : "day";
}

/**
 * The attributes the range's visits carry (from GET /api/v1/analytics/attributes), each
 * ``{name, distinct}``: those with few enough distinct values to group by.
 */
async function attributeNames(view) {
  const answer = await view.get("attributes");
  return answer.attributes.filter((a) => a.distinct <= MAX_ATTRIBUTE_VALUES)
    .map(({ name, distinct }) => ({ name, distinct }));
}

function groupName(dimension) {
  return dimension.startsWith("attributes.") ? dimension.slice("attributes.".length) : dimension;
}

function controls(view, attributes) {
  const options = [["", "nothing"], ["camera", "camera"], ["zone", "zone"],
    ...attributes.map(({ name, distinct }) => [`attributes.${name}`,
      `attribute: ${name} (${int(distinct)} ${distinct === 1 ? "value" : "values"})`])];
  if (view.groupBy && !options.some(([value]) => value === view.groupBy)) {
    options.push([view.groupBy, groupName(view.groupBy)]);
  }
  const select = h("select", { id: "group-by" }, options.map(([value, text]) =>
    h("option", { value, selected: value === (view.groupBy || "") }, text)));
  select.addEventListener("change", () => setParams({ group_by: select.value || null }));
  return h("div", { class: "actions", id: "analytics-controls",
    style: "margin-bottom: 12px; align-items: center" },
    h("label", {}, "Group by ", select),
    h("span", { class: "muted" }, "splits the occupancy chart and the table at the bottom",
      attributes.length ? "" : h("span", { id: "no-attributes" },
        " (the visits carry no attributes, such as age group or gender, with at most ",
        `${MAX_ATTRIBUTE_VALUES} values to group by)`)));
}

/** A page filter (a select kept in the URL as ``param``) above a card's content. */
function withChoice(body, label, id, choices, chosen, param) {
  const select = h("select", { id }, Object.entries(choices).map(
    ([value, text]) => h("option", { value, selected: value === chosen }, text)));
  select.addEventListener("change", () => setParams({ [param]: select.value }));
  body.append(h("div", { class: "actions" }, h("label", {}, label, select)));
  return body.appendChild(h("div"));
}

function tile(key, value, shown, label, title) {
  return h("div", { class: "tile", dataset: { kpi: key, value: String(value ?? "") }, title },
    h("div", { class: "value" }, shown), h("div", { class: "label" }, label));
}

async function drawTiles(element, view, kpis) {
  const visitors = await view.get("visitors", { period: "day" });
  const k = kpis.kpis;
  const share = visitors.unique_visitors ? visitors.repeat_visitors / visitors.unique_visitors
    : null;
  const s = k.sessions;
  fill(element,
    tile("unique_visitors", k.unique_visitors, int(k.unique_visitors), "unique visitors"),
    tile("repeat_share", share, pct(share), "repeat visitors (came on 2+ days)",
      `${int(visitors.repeat_visitors)} of ${int(visitors.unique_visitors)} visitors`),
    tile("complete_sessions", k.complete_sessions, int(k.complete_sessions),
      "visits (entry and exit)"),
    tile("incomplete_sessions", k.incomplete_sessions, int(k.incomplete_sessions),
      "incomplete visits", `${int(s.timed_out)} without exit, ${int(s.orphan_exit)} exits ` +
      `without entry, ${int(s.open)} still open`),
    tile("mean_dwell_ms", k.mean_dwell_ms, duration(k.mean_dwell_ms), "mean dwell per visit"),
    tile("median_dwell_ms", k.median_dwell_ms, duration(k.median_dwell_ms),
      "median dwell per visit"),
    tile("events_processed", k.events_processed, int(k.events_processed), "events analysed"));
}

/** Bin labels from the histogram edges: "0–1 min", "30 min–1 h", "2–4 h", "≥ 4 h". */
export function binLabels(edges) {
  const HOUR = 3_600_000;
  const MINUTE = 60_000;
  const text = (ms) => (ms >= HOUR ? `${num(ms / HOUR)} h` : `${num(ms / MINUTE)} min`);
  return edges.map((low, i) => {
    if (i + 1 === edges.length) return `≥ ${text(low)}`;
    const high = edges[i + 1];
    if (high <= HOUR) return `${num(low / MINUTE)}–${num(high / MINUTE)} min`;
    if (low >= HOUR) return `${num(low / HOUR)}–${num(high / HOUR)} h`;
    return `${text(low)}–${text(high)}`;
  });
}

async function drawDwell(element, view) {
  const [answer, kpis] = await Promise.all([view.get("dwell"), view.get("kpis")]);
  const { edges_ms: edges, counts } = answer.histogram;
  const row = answer.rows[0];
  const total = counts.reduce((sum, n) => sum + n, 0);
  fill(element);
  if (!total) {
    empty(element, "No complete visits in this range.",
      "Dwell time needs an entry and a later exit of the same person.");
    return;
  }
  const chart = element.appendChild(h("div", { id: "dwell-chart" }));
  bars(chart, { categories: binLabels(edges), series: [{ name: "visits", values: counts }],
    xLabel: "dwell time per visit (minutes / hours)", yLabel: "complete visits",
    unit: "visits", label: "dwell-time histogram", format: int });
  if (row) {
    element.append(h("p", { class: "muted", id: "dwell-stats" },
      `${int(row.complete)} complete visits: mean ${duration(row.mean_ms)}, median `,
      `${duration(row.median_ms)}, 90 % under ${duration(row.p90_ms)}, longest `,
      `${duration(row.max_ms)}; all visits of one visitor add up to `,
      `${duration(kpis.kpis.average_dwell_per_person_ms)} on average.`));
  }
}

/** "Apr 5" or "Apr 5 14:00" in the answer's zone, short enough for the x axis. */
function bucketLabel(iso, bucket, timeZone) {
  const options = { timeZone, month: "short", day: "numeric" };
  if (bucket !== "day") {
    Object.assign(options, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  }
  return new Intl.DateTimeFormat("en-GB", options).format(new Date(iso)).replace(",", "");
}

function zoneText(zone, view) {
  return zone === "UTC" && !view.source ? "UTC" : `local time, ${zone}`;
}

/** Local hour and minute of an instant in ``timeZone``, and its day label ("Sun 5 Apr"). */
function localParts(iso, timeZone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone, weekday: "short", day: "numeric", month: "short", hour: "2-digit",
    minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso)).map((p) => [p.type, p.value]));
  return { hour: Number(parts.hour), minute: Number(parts.minute),
    day: `${parts.weekday} ${parts.day} ${parts.month}` };
}

/** Indices to label: whole hours every 1, 2, 3, 6 or 12 hours, else every nth midnight. */
function calendarIndices(parts, most = 10) {
  const hours = parts.map((p, i) => [p, i]).filter(([p]) => p.minute === 0);
  for (const step of [1, 2, 3, 6, 12]) {
    const chosen = hours.filter(([p]) => p.hour % step === 0);
    if (chosen.length <= most) return chosen;
  }
  const midnights = hours.filter(([p]) => p.hour === 0);
  const every = Math.ceil(midnights.length / most);
  return midnights.filter((_, k) => k % every === 0);
}

/**
 * The x labels of a sub-day occupancy chart, on calendar boundaries: local midnights
 * ("Sun 5 Apr") and whole hours between them ("06:00").
 */
function calendarTicks(instants, timeZone) {
  const parts = instants.map((iso) => localParts(iso, timeZone));
  return calendarIndices(parts).map(([p, index]) => ({
    index, label: p.hour === 0 ? p.day : `${String(p.hour).padStart(2, "0")}:00` }));
}

/** Attribute values in their natural order ("0-17" before "18-24"), "(none)" last. */
function byValue(a, b) {
  if (a === "(none)" || b === "(none)") return Number(a === "(none)") - Number(b === "(none)");
  return a.localeCompare(b, "en", { numeric: true });
}

function keyText(key, dimension) {
  const value = key[dimension];
  return value === null || value === undefined || value === "" ? "(none)" : String(value);
}

async function drawOccupancy(element, view) {
  const params = { bucket: view.bucket };
  if (view.groupBy) params.group_by = view.groupBy;
  const answer = await view.get("occupancy", params);
  const zone = answer.timezone;
  fill(element);
  const overall = answer.series.find((s) => !Object.keys(s.key).length) || answer.series[0];
  if (!overall || !overall.x.length) {
    empty(element, "No occupancy in this range.", "Occupancy needs complete visits.");
    return;
  }
  const every = BUCKETS[view.bucket];
  let series;
  if (view.groupBy) {
    const groups = answer.series.filter((s) => Object.keys(s.key).length)
      .map((s) => ({ name: keyText(s.key, view.groupBy), values: s.max,
        peak: Math.max(0, ...s.max) }))
      .sort((a, b) => b.peak - a.peak);
    const drawn = groups.slice(0, MAX_LINES - 1);
    if (view.groupBy.startsWith("attributes.")) drawn.sort((a, b) => byValue(a.name, b.name));
    series = [{ name: "all", values: overall.max }, ...drawn];
    if (groups.length > MAX_LINES - 1) {
      element.append(h("p", { class: "muted" }, `The ${MAX_LINES - 1} groups with the highest `,
        `peaks of ${groups.length} are drawn; the table below has them all.`));
    }
  } else {
    series = [{ name: `peak (most people at once in the ${every})`, values: overall.max },
      { name: "mean (time-weighted)", values: overall.mean, dashed: true }];
  }
  const chart = element.appendChild(h("div", { id: "occupancy-chart",
    dataset: { bucket: view.bucket, timezone: zone, series: String(series.length) } }));
  lines(chart, { x: overall.x.map((iso) => bucketLabel(iso, view.bucket, zone)),
    series, xLabel: `start of each ${every} (${zoneText(zone, view)})`,
    yLabel: view.groupBy ? `people present (peak per ${every})` : "people present",
    unit: "people", label: "occupancy over time", format: num,
    xTicks: view.bucket !== "day" ? calendarTicks(overall.x, zone) : undefined });
  const out = answer.sessions_left_out || {};
  const left = (out.timed_out || 0) + (out.orphan_exit || 0);
  element.append(h("p", { class: "muted" }, `Times in ${zone}`,
    view.source ? ` (the local time of ${view.source})` : zone === "UTC"
      ? " (the cameras are in different zones; pick one source for its local time)" : "",
    left ? `. Left out: ${int(out.timed_out || 0)} visits without an exit and `
      + `${int(out.orphan_exit || 0)} exits without an entry.` : "."));
}

/** The first day after a period that starts on ``period`` (a week or a month). */
function periodEnd(period, kind) {
  if (kind === "day") return addDays(period, 1);
  if (kind === "week") return addDays(period, 7);
  const date = new Date(`${period}T00:00:00Z`);
  date.setUTCMonth(date.getUTCMonth() + 1);
  return date.toISOString().slice(0, 10);
}

function periodLabel(period, kind, view) {
  const partial = period < view.from || periodEnd(period, kind) > addDays(view.to, 1);
  return `${periodText(period, kind)}${partial ? " (part)" : ""}`;
}

function periodText(period, kind) {
  const date = new Date(`${period}T00:00:00Z`);
  if (kind === "month") {
    return new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", month: "short", year: "numeric" })
      .format(date);
  }
  const text = new Intl.DateTimeFormat("en-GB", { timeZone: "UTC", weekday: kind === "day"
    ? "short" : undefined, month: "short", day: "numeric" }).format(date).replace(",", "");
  return kind === "week" ? `week of ${text}` : text;
}

async function drawVisitors(element, view) {
  const answer = await view.get("visitors", { period: view.period });
  fill(element);
  const periods = answer.periods;
  if (!periods.length) {
    empty(element, "No visitors in this range.");
    return;
  }
  const chart = element.appendChild(h("div", { id: "visitors-chart" }));
  bars(chart, {
    categories: periods.map((p) => periodLabel(p.period, view.period, view)),
    series: [{ name: "new visitors (first visit)", values: periods.map((p) => p.new_visitors) },
      { name: "returning visitors", values: periods.map((p) => p.returning_visitors) }],
    stacked: true, unit: "visitors", format: int, label: "new and returning visitors",
    xLabel: view.period === "day" ? "day (each camera's local date)"
      : `${view.period} (local dates${view.period === "week" ? ", weeks start on Monday" : ""})`,
    yLabel: `visitors per ${view.period}`,
  });
  element.append(h("p", { class: "muted", id: "repeat-share" },
    `${int(answer.repeat_visitors)} of ${int(answer.unique_visitors)} unique visitors came on `,
    `more than one day (${pct(answer.unique_visitors
      ? answer.repeat_visitors / answer.unique_visitors : null)}).`));
}

async function drawFrequency(element, view) {
  const answer = await view.get("visitors", { period: view.period });
  const rows = answer.frequency;
  if (!rows.length) {
    empty(element, "No visitors in this range.");
    return;
  }
  fill(element);
  bars(element.appendChild(h("div", { id: "frequency-chart" })), {
    categories: rows.map((row) => String(row.visit_days)),
    series: [{ name: "visitors", values: rows.map((row) => row.persons) }],
    xLabel: "days with a visit in the range", yLabel: "visitors (people)", unit: "visitors",
    format: int, label: "visit frequency", height: 200 });
}

async function drawGroups(element, view) {
  const dim = view.groupBy;
  const params = { group_by: dim };
  const [kpis, dwell, visitors] = await Promise.all([view.get("kpis", params),
    view.get("dwell", { ...params, limit: MAX_GROUP_ROWS }), view.get("visitors", params)]);
  const keyOf = (row) => JSON.stringify(row[dim] ?? null);
  const p90 = new Map(dwell.rows.map((row) => [keyOf(row), row.p90_ms]));
  const repeat = new Map(visitors.groups.map((row) => [keyOf(row), row]));
  const rows = (kpis.groups || []).slice()
    .sort((a, b) => b.unique_visitors - a.unique_visitors).slice(0, MAX_GROUP_ROWS);
  if (dim.startsWith("attributes.")) {
    rows.sort((a, b) => byValue(keyText(a, dim), keyText(b, dim)));
  }
  if (!rows.length) {
    empty(element, `No visits to group by ${groupName(dim)}.`);
    return;
  }
  const filterLink = (row) => {
    if (dim === "camera" && row.camera) {
      return h("a", { href: routeHash("analytics", null, { from: view.from, to: view.to,
        source: row.camera }) }, row.camera);
    }
    return keyText(row, dim);
  };
  fill(element, h("table", { id: "groups-table", dataset: { groupBy: dim } },
    h("thead", {}, h("tr", {}, h("th", {}, groupName(dim)),
      ["unique visitors", "repeat visitors", "visits", "incomplete", "mean dwell",
        "median dwell", "90 % under", "total dwell"].map((t) => h("th", { class: "num" }, t)))),
    h("tbody", {}, rows.map((row) => {
      const rep = repeat.get(keyOf(row));
      return h("tr", { dataset: { group: keyText(row, dim) } },
        h("td", {}, filterLink(row)),
        h("td", { class: "num", dataset: { col: "unique_visitors" } }, int(row.unique_visitors)),
        h("td", { class: "num" }, rep ? `${int(rep.repeat_visitors)} (${pct(rep.unique_visitors
          ? rep.repeat_visitors / rep.unique_visitors : null)})` : "–"),
        h("td", { class: "num", dataset: { col: "complete_sessions" } },
          int(row.complete_sessions)),
        h("td", { class: "num" }, int(row.incomplete_sessions)),
        h("td", { class: "num" }, duration(row.mean_dwell_ms)),
        h("td", { class: "num" }, duration(row.median_dwell_ms)),
        h("td", { class: "num" }, duration(p90.get(keyOf(row)))),
        h("td", { class: "num" }, duration(row.total_dwell_ms)));
    }))),
  kpis.groups.length > rows.length ? h("p", { class: "muted" },
    `The ${rows.length} largest of ${kpis.groups.length} groups.`) : null);
}
