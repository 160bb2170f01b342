// Overview: every source with its status, today against expected, open anomalies and last
// event; then the health of the service (ingest, rejected rows, jobs, sink backlog).

import { get } from "../api.js";
import { cardBody, empty, fill, h, section } from "../dom.js";
import { ago, int, localTime, num } from "../format.js";
import { routeHash } from "../router.js";

const OPEN_PAGE = 1000;

export async function render(root, ctx) {
  root.append(h("h1", {}, "Overview"));
  if (!ctx.sources.length) {
    empty(root.appendChild(h("div")), "No events yet.",
      "Run ", h("code", {}, "vigil ingest events.csv"), " or POST to ",
      h("code", {}, "/api/v1/events"), "; drop a CSV on the ",
      h("a", { href: "#/uploads" }, "Uploads"), " page.");
  }
  const tiles = root.appendChild(h("div", { class: "tiles", id: "overview-tiles" }));
  const sources = cardBody(root, "Sources", "sources");
  const health = cardBody(root, "System health", "health");
  await Promise.all([
    ctx.sources.length ? section(sources, (el) => drawSources(el, ctx, tiles)) : fill(sources),
    section(health, (el) => drawHealth(el, ctx)),
  ]);
}

async function drawSources(element, ctx, tiles) {
  const [baselines, open, today] = await Promise.all([
    get("/api/v1/baselines"),
    get("/api/v1/anomalies", { status: "open", limit: OPEN_PAGE }),
    get("/api/v1/activity"),
  ]);
  const todayBySource = Object.fromEntries(today.sources.map((s) => [s.source_id, s]));
  const status = Object.fromEntries(baselines.baselines.map((b) => [b.source_id, b.status]));
  const openBySource = {};
  for (const anomaly of open.anomalies) {
    openBySource[anomaly.source_id] = (openBySource[anomaly.source_id] || 0) + 1;
  }
  const more = open.next_before_id !== null ? "+" : "";
  const newest = ctx.sources.map((s) => s.last_seen).filter(Boolean).sort().pop();
  const total = ctx.sources.reduce((sum, s) => sum + s.event_count, 0);
  fill(tiles,
    tile(int(ctx.sources.length), "sources"),
    tile(int(total), "events stored"),
    tile(`${int(open.anomalies.length)}${more}`, "open anomalies", "#/anomalies?status=open"),
    tile(ago(newest, ctx.now), "last event"));
  const rows = ctx.sources.map((source) => {
    const day = todayBySource[source.source_id];
    return h("tr", { "data-source": source.source_id },
      h("td", {}, h("a", { href: routeHash("camera", source.source_id, {}) }, source.source_id),
        source.area ? h("div", { class: "muted" }, source.area) : null),
      h("td", {}, h("span", { class: `badge ${status[source.source_id] || "learning"}` },
        status[source.source_id] || "learning")),
      h("td", { class: "num" }, int(day ? day.count : 0)),
      h("td", { class: "num" }, expectedText(day)),
      h("td", { class: "num" }, openBySource[source.source_id]
        ? h("a", { href: routeHash("anomalies", null, { source: source.source_id, status: "open" }) },
          int(openBySource[source.source_id]))
        : "0"),
      h("td", {}, localTime(source.last_seen, source.timezone),
        h("div", { class: "muted" }, `${source.timezone} · ${ago(source.last_seen, ctx.now)}`)),
    );
  });
  fill(element, h("table", { id: "sources-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Source"), h("th", {}, "Baseline"),
      h("th", { class: "num" }, "Events today"), h("th", { class: "num" }, "Expected today"),
      h("th", { class: "num" }, "Open anomalies"), h("th", {}, "Last event (local time)"))),
    h("tbody", {}, rows)),
  h("p", { class: "muted" }, "Today is each source's own local day; expected is the mean of ",
    "the same weekday in the previous weeks, with the usual range."));
}

function expectedText(point) {
  if (!point || point.expected === null) return "learning";
  return `${num(point.expected)} (${num(point.low)}–${num(point.high)})`;
}

function tile(value, label, href) {
  const body = [h("div", { class: "value" }, value), h("div", { class: "label" }, label)];
  return h("div", { class: "tile" }, href ? h("a", { href }, body) : body);
}

async function drawHealth(element, ctx) {
  const status = await get("/api/v1/status");
  const ingest = status.ingest;
  const sinks = status.sinks || {};
  const reasons = Object.entries(ingest.rejected_by_reason || {});
  const jobs = (status.jobs && status.jobs.jobs) || [];
  fill(element,
    h("div", { class: "tiles", id: "health-tiles" },
      tile(num(ingest.per_minute), "events / min (last 5 min)"),
      tile(int(ingest.events_total), "stored since start"),
      tile(int(ingest.rejected_total), "rejected rows"),
      tile(int(ingest.write_queue_depth), "writes queued"),
      tile(int(ingest.dead_letters), "dead letters"),
      ingest.mqtt_connected === null ? null
        : tile(ingest.mqtt_connected ? "connected" : "disconnected", "MQTT ingest"),
      tile(int(sinks.pending || 0), "alert deliveries pending"),
      tile(int(sinks.failed || 0), "alert deliveries failed")),
    reasons.length ? h("p", {}, "Rejected by reason: ",
      reasons.map(([reason, n]) => `${reason} ${int(n)}`).join(", ")) : null,
    jobs.length ? h("table", { id: "jobs-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Job"), h("th", {}, "Last outcome"),
        h("th", {}, "Last success"), h("th", {}, "Next run"), h("th", {}, "Error"))),
      h("tbody", {}, jobs.map((job) => h("tr", {},
        h("td", {}, job.name),
        h("td", {}, h("span", { class: `badge ${job.last_outcome || "learning"}` },
          job.last_outcome || "not run yet")),
        h("td", {}, job.last_success_at ? ago(job.last_success_at, ctx.now) : "–"),
        h("td", {}, job.next_run ? localTime(job.next_run, "UTC") + " UTC" : "–"),
        h("td", {}, job.last_error || ""))))) :
      h("p", { class: "muted" }, `Scheduler: ${(status.jobs && status.jobs.scheduler) || "off"}`),
    h("p", { class: "muted" }, `Vigil ${status.version} · ${status.store} · up ${ago(
      new Date(ctx.now - status.uptime_s * 1000).toISOString(), ctx.now).replace(" ago", "")}`));
}
