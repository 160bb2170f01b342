// Patterns: the routines the detectors found, most confident first, filtered by type, entity
// and least confidence (all kept in the URL), each with its entities and evidence. The list
// comes a page at a time; the type chips and the entity choice come from the facets.

import { ApiError, get } from "../api.js";
import { cardBody, empty, failed, fill, h, section } from "../dom.js";
import { duration, int, localTime, pct } from "../format.js";
import { routeHash, setParams } from "../router.js";

const TYPES = { time_of_day: "time of day", cooccurrence: "co-occurrence", sequence: "sequence",
  duration: "duration", session: "session", area: "area", day_type: "day type",
  seasonal: "seasonal" };
const FIRST_KEYS = ["days_observed", "days_in_window"];
const SHOW = 100;
const decimals = new Intl.NumberFormat("en", { maximumFractionDigits: 4 });

export async function render(root, ctx) {
  root.append(h("h1", {}, "Patterns"),
    h("p", { class: "muted", style: "margin:-8px 0 12px" },
      "Routines mined from the daily summaries of the last days, most confident first. ",
      "Days are each source's local days."));
  const filters = pageFilters(ctx.params);
  const bar = root.appendChild(h("div", { class: "card filter-card", id: "pattern-filters" }));
  const list = cardBody(root, "Patterns", "pattern-list");
  drawFilters(bar, filters, {});
  if (filters.problem) {
    failed(list, new ApiError(null, filters.problem.message, filters.problem.field));
    return;
  }
  await section(list, (el) => drawPatterns(el, bar, ctx, filters));
}

/** The filters of the URL, or the problem with one of them. */
function pageFilters(params) {
  const filters = { type: params.type || "", entity: params.entity || "",
    minConfidence: params.min_confidence || "" };
  if (filters.type && !(filters.type in TYPES)) {
    filters.problem = { field: "type", message: `unknown pattern type "${filters.type}" in `
      + `the URL; choose one of ${Object.keys(TYPES).join(", ")}` };
  }
  const least = Number(filters.minConfidence);
  if (filters.minConfidence && !(Number.isFinite(least) && least >= 0 && least <= 1)) {
    filters.problem = { field: "min_confidence",
      message: "min_confidence must be a number from 0 to 1" };
  }
  return filters;
}

const anyFilter = (filters) => Boolean(filters.type || filters.entity || filters.minConfidence);
const clearFilters = () => setParams({ type: null, entity: null, min_confidence: null });

/** The filter bar; ``entities`` = {entity: patterns} (the facets, so every entity shows). */
function drawFilters(bar, filters, entities) {
  const type = h("select", { id: "filter-type" }, h("option", { value: "" }, "All types"),
    Object.entries(TYPES).map(([value, text]) => h("option",
      { value, selected: value === filters.type }, text)));
  type.addEventListener("change", () => setParams({ type: type.value || null }));
  const counts = { ...entities };
  if (filters.entity && !(filters.entity in counts)) counts[filters.entity] = 0;
  const entity = h("select", { id: "filter-entity" }, h("option", { value: "" }, "All entities"),
    Object.keys(counts).sort().map((name) => h("option",
      { value: name, selected: name === filters.entity }, `${name} (${int(counts[name])})`)));
  entity.addEventListener("change", () => setParams({ entity: entity.value || null }));
  const least = h("input", { type: "range", id: "filter-min-confidence", min: 0, max: 1,
    step: 0.05, value: filters.minConfidence || 0, "aria-label": "least confidence" });
  const shown = h("output", { for: "filter-min-confidence", style: "min-width:4em" },
    pct(Number(least.value)));
  least.addEventListener("input", () => { shown.textContent = pct(Number(least.value)); });
  least.addEventListener("change", () => setParams(
    { min_confidence: Number(least.value) > 0 ? least.value : null }));
  const label = (...children) => h("label",
    { style: "display:flex;gap:6px;align-items:center" }, ...children);
  fill(bar, label("Type", type), label("Entity", entity),
    label("Confidence at least", least, shown),
    anyFilter(filters) ? h("button", { type: "button", class: "secondary", id: "clear-filters",
      style: "padding:2px 10px", onclick: clearFilters }, "Clear filters") : null);
}

/** The first page of the matching patterns, and the counts of all patterns per type and
 * entity; "Show more" fetches the next page. */
async function drawPatterns(element, bar, ctx, filters) {
  const query = { type: filters.type, entity: filters.entity,
    min_confidence: filters.minConfidence, limit: SHOW };
  const [facets, first] = await Promise.all([get("/api/v1/patterns/facets"),
    get("/api/v1/patterns", query)]);
  const everything = Object.values(facets.types).reduce((sum, n) => sum + n, 0);
  drawFilters(bar, filters, facets.entities);
  if (!everything) {
    drawNone(element, ctx);
    return;
  }
  if (!first.patterns.length) {
    empty(element, `No patterns match these filters (of ${int(everything)} patterns).`,
      "Choose another type or entity, or a lower confidence — or ",
      h("button", { type: "button", class: "secondary", onclick: clearFilters },
        "clear the filters"), ".");
    return;
  }
  const sources = new Set(ctx.sources.map((s) => s.source_id));
  const body = h("tbody", {});
  const more = h("button", { type: "button", class: "secondary", id: "show-more" }, "Show more");
  const note = h("span", { class: "muted", id: "pattern-shown" });
  const open = first.total <= 5;
  let total = first.total;
  let next = null;
  const add = (page) => {
    body.append(...page.patterns.map((p) => patternRow(p, sources, open)));
    total = page.total;
    next = page.next_offset;
    note.textContent = `${int(body.rows.length)} of ${int(total)} shown`
      + (anyFilter(filters) ? ` (${int(everything)} patterns in all)` : "");
    more.hidden = next === null;
  };
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      add(await get("/api/v1/patterns", { ...query, offset: next }));
    } catch (error) {
      console.warn("could not load more patterns", error);
      note.textContent = `Could not load more patterns: ${error.message}`;
    } finally {
      more.disabled = false;
    }
  });
  const newest = first.patterns[0];
  fill(element,
    typeSummary(facets.types, everything, filters.type),
    h("table", { id: "patterns-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Pattern"), h("th", {}, "Entities"),
        h("th", {}, "Confidence"), h("th", {}, "Seen (local days)"), h("th", {}, "Evidence"))),
      body),
    h("p", { class: "actions", style: "align-items:center;margin:12px 0 0" }, more, note),
    h("p", { class: "muted" }, `Detected ${localTime(newest.detected_at, "UTC")} UTC from the `,
      `days up to ${newest.window_end}. `, "The nightly ", h("code", {}, "patterns"),
      " job refreshes them; run ", h("code", {}, "vigil rollup run patterns"), " to do it now."));
  add(first);
}

function drawNone(element, ctx) {
  empty(element, ctx.sources.length ? "No patterns yet." : "No events yet, so no patterns.",
    "Patterns come from the daily summaries: run ", h("code", {}, "vigil rollup run daily"),
    " then ", h("code", {}, "vigil rollup run patterns"), " (or wait for the nightly jobs). ",
    "A pattern needs evidence from at least five days. Home Assistant history can be loaded ",
    "with ", h("code", {}, "vigil ingest --format ha-history history.csv"), ".");
}

/** How many patterns of each type (``types`` = {type: patterns}), as chips that filter by
 * that type. */
function typeSummary(types, everything, active) {
  return h("p", { class: "actions", id: "pattern-types", style: "align-items:center" },
    h("span", { class: "muted" }, `${int(everything)} patterns:`),
    Object.entries(types).sort((a, b) => b[1] - a[1]).map(([type, n]) => h("button", {
      type: "button", class: "chip", "data-type": type, "aria-pressed": String(type === active),
      style: type === active ? "background:var(--accent);color:#fff" : null,
      onclick: () => setParams({ type: type === active ? null : type }),
    }, `${TYPES[type] || type} ${int(n)}`)));
}

function patternRow(pattern, sources, open) {
  return h("tr", { dataset: { patternId: pattern.pattern_id, type: pattern.type } },
    h("td", {}, h("div", { class: "description" }, pattern.description),
      h("div", { class: "muted" }, TYPES[pattern.type] || pattern.type)),
    h("td", { class: "entities" },
      pattern.entities.map((e) => h("div", {}, entityLink(e, sources)))),
    h("td", { class: "confidence", "data-confidence": pattern.confidence,
      style: "white-space:nowrap" }, confidenceBar(pattern.confidence)),
    h("td", { style: "white-space:nowrap" }, pattern.first_seen || "–",
      h("div", {}, `to ${pattern.last_seen || "–"}`)),
    h("td", { style: "min-width:240px" }, evidenceList(pattern, open)));
}

/** A source (or ``source:label``) links to its camera page, anything else filters by it. */
function entityLink(entity, sources) {
  const source = sources.has(entity) ? entity : entity.split(":")[0];
  if (sources.has(source)) {
    return h("a", { href: routeHash("camera", source, {}), "data-entity": entity,
      title: `the camera page of ${source}` }, entity);
  }
  return h("a", { href: routeHash("patterns", null, { entity }), "data-entity": entity,
    title: `only the patterns of ${entity}` }, entity);
}

function confidenceBar(confidence) {
  const share = Math.max(0, Math.min(1, confidence));
  return h("span", { style: "display:inline-flex;gap:8px;align-items:center" },
    h("span", { "aria-hidden": "true", style: "display:inline-block;width:72px;height:8px;"
      + "background:#e6e9ee;border-radius:4px;overflow:hidden" },
    h("span", { style: `display:block;height:100%;width:${(share * 100).toFixed(1)}%;`
      + "background:var(--accent)" })),
    pct(confidence));
}

/** The evidence as a key/value list, days observed first; ``A``/``B`` are the entities. */
function evidenceList(pattern, open) {
  const keys = Object.keys(pattern.evidence);
  const ordered = FIRST_KEYS.filter((k) => keys.includes(k))
    .concat(keys.filter((k) => !FIRST_KEYS.includes(k)));
  const paired = keys.some((k) => /_(a|b|a_b|b_a)$/.test(k)) && pattern.entities.length === 2;
  const days = pattern.evidence.days_observed;
  const total = pattern.evidence.days_in_window;
  const list = h("dl", { class: "evidence", style: "display:grid;grid-template-columns:"
    + "max-content 1fr;gap:2px 12px;margin:6px 0 0;font-size:13px" },
  ordered.map((key) => [
    h("dt", { class: "muted", "data-key": key, title: key }, keyName(key)),
    h("dd", { style: "margin:0", "data-key": key,
      "data-value": JSON.stringify(pattern.evidence[key]) }, valueText(key, pattern.evidence[key])),
  ]));
  return h("details", { open },
    h("summary", {}, days === undefined ? `${int(keys.length)} facts`
      : `${int(days)}${total === undefined ? "" : ` of ${int(total)}`} days observed`),
    paired ? h("p", { class: "muted", style: "margin:4px 0 0;font-size:13px" },
      `A = ${pattern.entities[0]}, B = ${pattern.entities[1]}`) : null,
    list);
}

/** A readable key: ``median_gap_s`` → "median gap" (the unit goes with the value),
 * ``lift_a_b`` → "lift A→B". */
function keyName(key) {
  return key.replace(/_(s|min)$/, "").replace(/_a_b$/, " A→B").replace(/_b_a$/, " B→A")
    .replace(/_a$/, " A").replace(/_b$/, " B").replaceAll("_", " ");
}

/** A readable value: numbers with their unit, minutes of the day as a clock time too. */
function valueText(key, value) {
  if (Array.isArray(value)) return value.map((v) => valueText(key, v)).join(", ");
  if (value && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${keyName(k)} ${valueText(k, v)}`).join(" · ");
  }
  if (typeof value !== "number") return String(value);
  const text = value !== 0 && Math.abs(value) < 0.001 ? value.toExponential(2)
    : decimals.format(value);
  if (/(^|_)minute$/.test(key) && value >= 0 && value < 1440) {
    const minute = Math.round(value) % 1440;
    const clock = `${String(Math.floor(minute / 60)).padStart(2, "0")}:`
      + String(minute % 60).padStart(2, "0");
    return `${text} (${clock})`;
  }
  if (/(^|_)s$/.test(key) || key === "seconds") {
    const round = value >= 3600 || (value >= 120 && value % 60 === 0);
    return round ? `${text} s (${duration(value * 1000)})` : `${text} s`;
  }
  if (/(^|_)min$/.test(key)) return `${text} min`;
  return text;
}
