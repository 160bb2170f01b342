// The shared filter bar: date range and source, kept in the URL (#/page?from=…&to=…&source=…).

import { h, fill } from "./dom.js";
import { addDays, isoDate } from "./format.js";
import { setParams } from "./router.js";

export const DEFAULT_DAYS = 14;

/**
 * The range to show: the URL's, else the last ``DEFAULT_DAYS`` days up to the newest event
 * (today when the data is current; the data's own last day when it is older, e.g. an import).
 */
export function effectiveRange(params, sources, now) {
  const newest = sources.map((s) => s.last_seen).filter(Boolean).sort().pop();
  const today = isoDate(now);
  const lastDay = newest && newest.slice(0, 10) < today ? newest.slice(0, 10) : today;
  const to = params.to || (params.from ? addDays(params.from, DEFAULT_DAYS - 1) : lastDay);
  const from = params.from || addDays(to, -(DEFAULT_DAYS - 1));
  return { from, to, defaulted: !params.from && !params.to };
}

/** Draw the filter bar for a page that uses ``kinds`` (a subset of "range", "source"). */
export function renderFilters(bar, kinds, { params, sources, range }) {
  if (!kinds.length) {
    fill(bar);
    bar.hidden = true;
    return;
  }
  bar.hidden = false;
  const controls = [];
  if (kinds.includes("range")) {
    const from = h("input", { type: "date", id: "filter-from", value: range.from, max: range.to });
    const to = h("input", { type: "date", id: "filter-to", value: range.to, min: range.from });
    from.addEventListener("change", () => from.value && setParams({ from: from.value, to: to.value }));
    to.addEventListener("change", () => to.value && setParams({ from: from.value, to: to.value }));
    controls.push(h("label", {}, "From ", from), h("label", {}, "to ", to));
    for (const days of [1, 7, 14, 28]) {
      controls.push(h("button", { type: "button", class: "chip", "data-days": days,
        onclick: () => setParams({ from: addDays(range.to, -(days - 1)), to: range.to }) },
        days === 1 ? "1 day" : `${days} days`));
    }
    if (range.defaulted) {
      controls.push(h("span", { class: "muted" }, "(the last days with data)"));
    }
  }
  if (kinds.includes("source")) {
    const select = h("select", { id: "filter-source" },
      h("option", { value: "" }, "All sources"),
      sources.map((s) => h("option", { value: s.source_id, selected: s.source_id === params.source },
        s.source_id)));
    select.addEventListener("change", () => setParams({ source: select.value || null }));
    controls.push(h("label", {}, "Source ", select));
  }
  fill(bar, controls);
}
