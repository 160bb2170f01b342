// Anomalies: the list filtered by period, source, type, severity (at least) and status, each
// with its explanation and the actions Acknowledge / False positive / Reopen; the counts by
// status of the anomalies matching the other filters; a chart of anomalies per day by
// severity. Every filter lives in the URL.

import { actionFailure, actionsFor, applyAction } from "../anomaly-actions.js";
import { ApiError, get } from "../api.js";
import { bars } from "../charts.js";
import { cardBody, empty, failed, fill, h, section } from "../dom.js";
import { addDays, int, localMidnight, localTime } from "../format.js";
import { routeHash, setParams } from "../router.js";

const TYPES = { rare_time: "rare time", novel_object: "novel object", spike: "spike",
  silence: "silence" };
const SEVERITIES = ["low", "medium", "high"];
// Okabe–Ito, the same as the chart markers of the other pages
const SEVERITY_COLOURS = { low: "#56B4E9", medium: "#E69F00", high: "#D55E00" };
const STATUSES = { open: "open", acknowledged: "acknowledged", false_positive: "false positive" };
const PAGE_SIZE = 50;
const MAX_PAGE = 1000;
const CHART_PAGES = 5;
const SKIP_PAGES = 20;

export async function render(root, ctx) {
  root.append(h("h1", {}, "Anomalies"));
  const filters = pageFilters(ctx.params);
  root.append(h("p", { class: "muted", id: "anomaly-period", style: "margin:-8px 0 12px" },
    `${ctx.range.from} to ${ctx.range.to} (each source's local days)`,
    ctx.params.source ? ` · source ${ctx.params.source}` : " · all sources"),
  filterBar(filters),
  h("p", { class: "muted", id: "anomaly-counts-caption", style: "margin:0 0 6px" },
    "Anomalies of this period",
    ctx.params.source ? ` at ${ctx.params.source}` : " at every source",
    filters.type || filters.severity ? " of the type and severity chosen" : "",
    ", by status; choose one to filter the list:"));
  const tiles = root.appendChild(h("div", { class: "tiles", id: "anomaly-counts" }));
  const list = cardBody(root, "Anomalies, newest first", "anomaly-list");
  const chart = cardBody(root, "Anomalies per day by severity", "anomaly-chart");
  if (filters.problem) {
    failed(list, new ApiError(null, filters.problem.message, filters.problem.field));
    fill(chart, h("p", { class: "muted" }, "Fix the filter to see the chart."));
    return;
  }
  if (!ctx.sources.length) {
    empty(list, "No events yet, so no anomalies.",
      "Run ", h("code", {}, "vigil ingest events.csv"), " or POST to ",
      h("code", {}, "/api/v1/events"), "; anomalies are scored as events arrive, once a ",
      "source has a few weeks of history.");
    fill(chart, h("p", { class: "muted" }, "Nothing to chart yet."));
    return;
  }
  const query = apiQuery(ctx, filters);
  await Promise.all([
    section(list, (el) => drawList(el, tiles, ctx, filters, query)),
    section(chart, (el) => drawChart(el, ctx, query)),
  ]);
}

/** The page's own filters from the URL, or the problem with one of them. */
function pageFilters(params) {
  const filters = { type: params.type || "", severity: params.severity || "",
    status: params.status || "", limit: PAGE_SIZE };
  const known = { type: Object.keys(TYPES), severity: SEVERITIES, status: Object.keys(STATUSES) };
  for (const [field, values] of Object.entries(known)) {
    if (filters[field] && !values.includes(filters[field])) {
      filters.problem = { field, message: `unknown ${field} "${filters[field]}" in the URL; `
        + `choose one of ${values.join(", ")}` };
    }
  }
  if (params.limit) {
    const limit = Number(params.limit);
    if (Number.isInteger(limit) && limit >= 1 && limit <= MAX_PAGE) filters.limit = limit;
    else filters.problem = { field: "limit", message: `limit must be 1 to ${MAX_PAGE}` };
  }
  return filters;
}

function filterBar(filters) {
  const choose = (id, name, label, first, options) => {
    const select = h("select", { id, name },
      h("option", { value: "" }, first),
      Object.entries(options).map(([value, text]) => h("option",
        { value, selected: value === filters[name] }, text)));
    select.addEventListener("change", () => setParams({ [name]: select.value || null }));
    return h("label", {}, `${label} `, select);
  };
  const any = filters.type || filters.severity || filters.status;
  return h("div", { class: "card filter-card", id: "anomaly-filters" },
  choose("filter-type", "type", "Type", "All types", TYPES),
  choose("filter-severity", "severity", "Severity at least", "Any severity",
    Object.fromEntries(SEVERITIES.map((s) => [s, s]))),
  choose("filter-status", "status", "Status", "All statuses", STATUSES),
  any ? h("button", { type: "button", class: "secondary", id: "clear-filters",
    style: "padding:2px 10px",
    onclick: () => setParams({ type: null, severity: null, status: null }) },
  "Clear type, severity and status") : null);
}

/**
 * The API parameters of the filters, and ``keep(anomaly)``: the period is local days of
 * each source, so with all sources the request spans every zone's period and ``keep``
 * drops what lies outside the anomaly's own source's period. ``byZone`` lists the sources
 * of each zone with that zone's period, for counts that need no ``keep``.
 */
function apiQuery(ctx, filters) {
  const zones = Object.fromEntries(ctx.sources.map((s) => [s.source_id, s.timezone || "UTC"]));
  const bounds = (source) => ({
    start: localMidnight(ctx.range.from, zones[source] || "UTC"),
    end: localMidnight(addDays(ctx.range.to, 1), zones[source] || "UTC"),
  });
  const chosen = ctx.params.source || null;
  const spans = (chosen ? [chosen] : Object.keys(zones)).map(bounds);
  const start = new Date(Math.min(...spans.map((s) => s.start)));
  const end = new Date(Math.max(...spans.map((s) => s.end)));
  const own = Object.fromEntries(Object.keys(zones).map((s) => [s, bounds(s)]));
  const keep = (a) => {
    const span = own[a.source_id] || { start, end };
    return new Date(a.window_end) >= span.start && new Date(a.window_start) < span.end;
  };
  const params = { source_id: chosen, type: filters.type, severity: filters.severity,
    status: filters.status, start: start.toISOString(), end: end.toISOString() };
  const byZone = new Map();
  for (const source of chosen ? [chosen] : Object.keys(zones).sort()) {
    const zone = zones[source] || "UTC";
    if (!byZone.has(zone)) byZone.set(zone, { sources: [], ...bounds(source) });
    byZone.get(zone).sources.push(source);
  }
  return { params, keep, zones, byZone: [...byZone.values()] };
}

/**
 * Anomalies per status matching every filter but the status, each source in its own local
 * days: one count per zone (the API's ``filtered_counts`` of that zone's sources and period).
 */
async function countsByZone(query) {
  const answers = await Promise.all(query.byZone.map(({ sources, start, end }) =>
    get("/api/v1/anomalies", { ...query.params, source_id: sources, start: start.toISOString(),
      end: end.toISOString(), limit: 1 })));
  const counts = {};
  for (const answer of answers) {
    for (const [status, n] of Object.entries(answer.filtered_counts)) {
      counts[status] = (counts[status] || 0) + n;
    }
  }
  return counts;
}

/**
 * The next ``limit`` anomalies to show (pages are fetched until they are found), and the
 * first answer's ``filtered_counts`` (exact when every source shares one zone).
 */
async function fetchRows(query, limit, beforeId) {
  const rows = [];
  let before = beforeId;
  let counts = null;
  for (let page = 0; page < SKIP_PAGES; page += 1) {
    const answer = await get("/api/v1/anomalies", { ...query.params, limit, before_id: before });
    counts = counts || answer.filtered_counts;
    rows.push(...answer.anomalies.filter(query.keep));
    before = answer.next_before_id;
    if (rows.length >= limit || before === null) break;
  }
  if (rows.length > limit) {
    rows.length = limit;
    before = rows[limit - 1].anomaly_id;
  }
  return { rows, next: before, counts };
}

async function drawList(element, tiles, ctx, filters, query) {
  const oneZone = query.byZone.length === 1;
  const [first, zoneCounts] = await Promise.all([fetchRows(query, filters.limit, null),
    oneZone ? null : countsByZone(query)]);
  const counts = { ...(oneZone ? first.counts : zoneCounts) };
  const redrawCounts = () => drawCounts(tiles, counts, filters.status, ctx.params);
  redrawCounts();
  if (!first.rows.length) {
    drawEmpty(element, ctx, filters);
    return;
  }
  const changed = (before, after) => {
    counts[before] = Math.max(0, (counts[before] || 0) - 1);
    counts[after] = (counts[after] || 0) + 1;
    redrawCounts();
  };
  const body = h("tbody", {});
  const shown = h("span", { id: "anomaly-shown" });
  const more = h("button", { type: "button", class: "secondary", id: "load-more" }, "Load more");
  let next = first.next;
  const add = (rows) => {
    body.append(...rows.map((a) => anomalyRow(a, query.zones, changed)));
    shown.textContent = `${int(body.rows.length)} shown${next === null ? "" : ", more below"}`;
    more.hidden = next === null;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    more.textContent = "Loading…";
    try {
      const page = await fetchRows(query, filters.limit, next);
      next = page.next;
      add(page.rows);
      more.textContent = "Load more";
    } catch (error) {
      more.textContent = `Could not load more (${error.message}); try again`;
    } finally {
      more.disabled = false;
    }
  });
  fill(element,
    h("table", { id: "anomalies-table" },
      h("thead", {}, h("tr", {},
        h("th", {}, "When (source's local time)"), h("th", {}, "Source"), h("th", {}, "Type"),
        h("th", {}, "Severity"), h("th", { class: "num" }, "Score"), h("th", {}, "Status"),
        h("th", {}, "Explanation"), h("th", {}, "Actions"))),
      body),
    h("p", { class: "actions", style: "align-items:center;margin:12px 0 0" }, more,
      h("span", { class: "muted" }, shown)));
  add(first.rows);
}

function drawCounts(tiles, counts, active, params) {
  const total = Object.values(counts).reduce((sum, n) => sum + n, 0);
  const tile = (status, label) => h("a", {
    class: "tile", href: routeHash("anomalies", null, { ...params, status }),
    "data-status": status || "all", "aria-current": (status || "") === active ? "true" : null,
    style: `text-decoration:none;color:inherit${(status || "") === active
      ? ";border-color:var(--accent);box-shadow:inset 0 0 0 1px var(--accent)" : ""}`,
  }, h("div", { class: "value" }, int(status ? counts[status] || 0 : total)),
  h("div", { class: "label" }, label));
  fill(tiles,
    tile(null, "in all"),
    Object.entries(STATUSES).map(([status, text]) => tile(status, text)));
}

function drawEmpty(element, ctx, filters) {
  if (filters.type || filters.severity || filters.status) {
    empty(element, "No anomalies match these filters in this period.",
      "Try another type, a lower severity, all statuses or a longer period — or ",
      h("button", { type: "button", class: "secondary",
        onclick: () => setParams({ type: null, severity: null, status: null }) },
      "clear type, severity and status"), ".");
    return;
  }
  empty(element, `No anomalies from ${ctx.range.from} to ${ctx.range.to}.`,
    "Choose a longer period above. Anomalies are scored as events arrive, once a source's ",
    "baseline has a few weeks of history (see its status on the ",
    h("a", { href: "#/overview" }, "Overview"), "); load older history with ",
    h("code", {}, "vigil ingest events.csv"), ".");
}

/** One anomaly as a table row; ``changed(before, after)`` hears of a status change. */
function anomalyRow(anomaly, zones, changed) {
  const zone = zones[anomaly.source_id] || "UTC";
  const start = localTime(anomaly.window_start, zone);
  const end = localTime(anomaly.window_end, zone);
  const long = new Date(anomaly.window_end) - new Date(anomaly.window_start) > 3600_000;
  const message = h("p", { class: "action-message", role: "alert", hidden: true });
  const row = h("tr", { dataset: { anomalyId: anomaly.anomaly_id, status: anomaly.status,
    type: anomaly.type, severity: anomaly.severity, source: anomaly.source_id } },
  h("td", { class: "when", style: "white-space:nowrap" }, start,
    long ? h("div", {}, `to ${end.slice(0, 10) === start.slice(0, 10) ? end.slice(11) : end}`)
      : null,
    h("div", { class: "muted" }, zone)),
  h("td", {}, h("a", { href: routeHash("camera", anomaly.source_id, {}) }, anomaly.source_id),
    anomaly.label ? h("div", { class: "muted" }, anomaly.label) : null),
  h("td", { class: "type" }, TYPES[anomaly.type] || anomaly.type),
  h("td", {}, h("span", { class: `badge ${anomaly.severity}` }, anomaly.severity)),
  h("td", { class: "num score" }, anomaly.score.toFixed(2)),
  h("td", {}, h("span", { class: `badge ${anomaly.status} status` },
    STATUSES[anomaly.status] || anomaly.status)),
  h("td", {}, h("p", { class: "explanation" }, anomaly.explanation)),
  h("td", {}, h("div", { class: "actions" }, actionsFor(anomaly.status)
    .map((action) => h("button", { type: "button", class: "secondary", "data-action": action.path,
      style: "padding:2px 8px;font-size:13px",
      onclick: () => act(row, anomaly, action, message, zones, changed) }, action.title))),
  message));
  return row;
}

async function act(row, anomaly, action, message, zones, changed) {
  for (const button of row.querySelectorAll("button")) button.disabled = true;
  try {
    const updated = await applyAction(anomaly.anomaly_id, action);
    row.replaceWith(anomalyRow(updated, zones, changed));
    if (updated.status !== anomaly.status) changed(anomaly.status, updated.status);
  } catch (error) {
    for (const button of row.querySelectorAll("button")) button.disabled = false;
    message.hidden = false;
    fill(message, actionFailure(error, action,
      () => act(row, anomaly, action, message, zones, changed)));
    message.className = "action-message error";
  }
}

/** Anomalies per local day and severity (newest few thousand), stacked. */
async function drawChart(element, ctx, query) {
  const found = [];
  let before = null;
  let pages = 0;
  do {
    const answer = await get("/api/v1/anomalies", { ...query.params, limit: MAX_PAGE,
      before_id: before });
    found.push(...answer.anomalies.filter(query.keep));
    before = answer.next_before_id;
    pages += 1;
  } while (before !== null && pages < CHART_PAGES);
  const days = [];
  for (let day = ctx.range.from; day <= ctx.range.to; day = addDays(day, 1)) days.push(day);
  const index = Object.fromEntries(days.map((d, i) => [d, i]));
  const shown = SEVERITIES.slice(Math.max(0, SEVERITIES.indexOf(query.params.severity)));
  const series = shown.map((severity) => ({ name: severity, color: SEVERITY_COLOURS[severity],
    values: days.map(() => 0) }));
  let counted = 0;
  for (const anomaly of found) {
    const i = index[anomaly.local_date];
    const k = shown.indexOf(anomaly.severity);
    if (i === undefined || k < 0) continue;
    series[k].values[i] += 1;
    counted += 1;
  }
  if (!counted) {
    fill(element, h("p", { class: "muted" }, "Nothing to chart: no anomalies in this period."));
    return;
  }
  fill(element);
  bars(element, { categories: days.map((d) => d.slice(5)), series, stacked: true,
    xLabel: "day the anomaly began (source's local date, MM-DD)", yLabel: "anomalies per day",
    unit: "anomalies", label: "anomalies per day by severity", height: 220,
    format: (value) => (Number.isInteger(value) ? int(value) : "") });
  if (before !== null) {
    element.append(h("p", { class: "scale-note" },
      `The newest ${int(found.length)} anomalies of the period are charted.`));
  }
}
