// Uploads: drop a camera export (or pick it), watch it being sent and processed, then read
// its data quality report (accepted, duplicates, rejected rows by reason with line numbers)
// and go to the analytics of its range. Every upload the service has taken (from any browser,
// script or key) is listed below, newest first, a page at a time.

import { ApiError, forgetKey, get, storedKey } from "../api.js";
import { cardBody, empty, fill, h, section } from "../dom.js";
import { duration, int, localTime, pct } from "../format.js";
import { routeHash } from "../router.js";

const FORMATS = { "": "from the file name", csv: "CSV", ndjson: "NDJSON", parquet: "Parquet",
  "ha-events": "Home Assistant events (NDJSON)", "ha-history": "Home Assistant history (CSV)" };
const ACCEPT = ".csv,.ndjson,.jsonl,.json,.parquet,.pq";
const PAGE_SIZE = 20;
const NOWRAP = "white-space: nowrap";
const POLL_MS = 400;
const MB = 1024 * 1024;

export async function render(root, ctx) {
  root.append(h("h1", {}, "Uploads"), h("p", { class: "muted" },
    "Upload a camera export (CSV, NDJSON or Parquet, 100 MB and more) or a Home Assistant ",
    "export. Every row is checked; bad rows are reported with their line number and reason."));
  const options = optionControls();
  const runs = h("div", { id: "upload-runs" });
  const listing = cardBody(root, "All uploads", "upload-history");
  let generation = 0; // a refresh answered after a newer one must not draw over it
  const refresh = () => {
    const mine = ++generation;
    return section(listing, (element) => drawHistory(element, () => mine === generation));
  };
  const start = (files) => {
    for (const file of files) {
      const run = h("section", { class: "card upload-run", dataset: { filename: file.name } });
      runs.prepend(run);
      sendFile(run, file, options.values(), refresh);
    }
  };
  root.insertBefore(uploadCard(start, options.element), listing.parentElement);
  root.insertBefore(runs, listing.parentElement);
  for (const type of ["dragover", "drop"]) { // a file dropped beside the zone: do not open it
    root.addEventListener(type, (event) => event.preventDefault());
  }
  const shown = ctx.params.upload;
  await Promise.all([refresh(), shown ? showUpload(runs, shown, refresh) : null]);
}

/** The card with the drop zone, the file picker and the options. */
function uploadCard(start, optionsElement) {
  const input = h("input", { type: "file", id: "file-input", accept: ACCEPT, multiple: true,
    hidden: true });
  input.addEventListener("change", () => {
    start([...input.files]);
    input.value = "";
  });
  const zone = h("div", { class: "dropzone", id: "dropzone", tabindex: "0",
    "aria-label": "Drop a file here to upload it" },
  h("p", {}, h("strong", {}, "Drop a file here"), " or ",
    h("button", { type: "button", id: "choose-file", onclick: () => input.click() },
      "Choose a file…")),
  h("p", { class: "muted" }, "CSV, NDJSON (.ndjson, .jsonl, .json) or Parquet; one ",
    "event per row with at least a timestamp, a camera id and an event type."), input);
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("keydown", (event) => {
    if (event.target === zone && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      input.click();
    }
  });
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    const files = [...((event.dataTransfer && event.dataTransfer.files) || [])];
    if (files.length) start(files);
  });
  return h("section", { class: "card", id: "upload-card" }, h("h2", {}, "Upload a file"),
    zone, optionsElement);
}

/** Format and time zone of the next upload. */
function optionControls() {
  const format = h("select", { id: "upload-format" }, Object.entries(FORMATS).map(
    ([value, text]) => h("option", { value }, text)));
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone")
    : [];
  const timezone = h("input", { id: "upload-timezone", list: "upload-zones", size: 22,
    placeholder: "UTC", autocomplete: "off" });
  const element = h("div", { class: "actions", style: "margin-top: 12px; align-items: center" },
    h("label", {}, "Format ", format),
    h("label", {}, "Time zone of timestamps without one ", timezone),
    h("datalist", { id: "upload-zones" }, zones.map((zone) => h("option", { value: zone }))));
  return {
    element,
    values: () => ({ format: format.value, timezone: timezone.value.trim() }),
  };
}

// ---- sending and polling -------------------------------------------------------------

/** Send ``file`` with progress, then follow its processing into ``run``. */
function sendFile(run, file, options, finished) {
  const bar = h("progress", { class: "upload-progress", max: 100, value: 0,
    dataset: { phase: "sending" } });
  const status = h("p", { class: "upload-phase", role: "status" }, "Sending…");
  const body = h("div", { class: "upload-body" });
  fill(run, h("h2", {}, file.name, h("span", { class: "muted" }, ` · ${size(file.size)}`)),
    bar, status, body);
  const search = new URLSearchParams({ filename: file.name });
  if (options.format) search.set("format", options.format);
  if (options.timezone) search.set("timezone", options.timezone);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", `/api/v1/uploads?${search}`);
  xhr.setRequestHeader("Content-Type", "application/octet-stream");
  const key = storedKey();
  if (key) xhr.setRequestHeader("Authorization", `Bearer ${key}`);
  xhr.upload.addEventListener("progress", (event) => {
    const total = event.lengthComputable ? event.total : file.size;
    setProgress(bar, "sending", total ? (100 * event.loaded) / total : 0);
    status.textContent = `Sending: ${size(event.loaded)} of ${size(total)}`;
  });
  xhr.addEventListener("load", () => {
    const answer = parse(xhr.responseText);
    if (xhr.status !== 202) {
      refused(run, bar, status, body, new ApiError(xhr.status, errorText(answer, xhr),
        answer && answer.field), () => sendFile(run, file, options, finished));
      return;
    }
    if (!run.isConnected) return; // the page was left while sending
    run.dataset.uploadId = answer.upload_id;
    history.replaceState(null, "", routeHash("uploads", null, { upload: answer.upload_id }));
    finished();
    follow(run, answer.upload_id, { bar, status, body }, finished);
  });
  xhr.addEventListener("error", () => refused(run, bar, status, body,
    new ApiError(0, "the connection failed while sending; is the service running?", null),
    () => sendFile(run, file, options, finished)));
  xhr.send(file);
}

function parse(text) {
  try {
    return JSON.parse(text);
  } catch (_) {
    return null; // not JSON: the status line says enough
  }
}

function errorText(answer, xhr) {
  const detail = answer && (answer.error || answer.detail);
  if (typeof detail === "string") return detail;
  if (detail && detail.message) return detail.message;
  return `${xhr.status} ${xhr.statusText}`;
}

function setProgress(bar, phase, value) {
  bar.value = Math.max(0, Math.min(100, value));
  bar.dataset.phase = phase;
}

/** A refused or failed send: say why, and what to do about it. */
function refused(run, bar, status, body, error, retry) {
  bar.dataset.phase = "failed";
  bar.hidden = true; // nothing was taken: a full bar would say otherwise
  run.dataset.status = "refused";
  status.textContent = "Not uploaded.";
  const what = {
    401: "This service needs an API key with the ingest scope to upload.",
    403: "Uploading needs a key with the ingest scope; the key of this tab may only read.",
    404: "This service does not know that upload (it may have been made on another one).",
    413: "The file is too large for this service.",
    422: "The service refused the file or its options; check the format and time zone.",
  }[error.status] || "The upload failed.";
  const keyButton = error.status === 401 || error.status === 403
    ? h("button", { type: "button", id: "upload-new-key", onclick: async () => {
      forgetKey();
      try {
        await get("/api/v1/cameras"); // asks for a key in the dialog
      } catch (problem) {
        console.warn("no key given:", problem);
        return;
      }
      retry();
    } }, "Use another key and retry") : null;
  fill(body, h("div", { class: "state error upload-error", role: "alert",
    dataset: { status: String(error.status) } },
  h("p", {}, h("strong", {}, what)),
  h("p", {}, `${error.status ? `${error.status}: ` : ""}${error.message}`,
    error.field ? ` (field: ${error.field})` : ""),
  keyButton ? h("p", {}, keyButton) : null));
}

/** Show a stored upload (from the URL) in ``runs``, following it while it is processed. */
async function showUpload(runs, uploadId, finished) {
  const run = h("section", { class: "card upload-run", dataset: { uploadId } });
  runs.prepend(run);
  const bar = h("progress", { class: "upload-progress", max: 100, value: 0,
    dataset: { phase: "processing" } });
  const status = h("p", { class: "upload-phase", role: "status" }, "Loading…");
  const body = h("div", { class: "upload-body" });
  fill(run, h("h2", {}, "Upload"), bar, status, body);
  await follow(run, uploadId, { bar, status, body }, finished, true);
}

/**
 * Poll the upload until it is done or failed, updating the bar; then draw the report.
 * With ``firstOnly`` the promise settles after the first answer (the page is ready then)
 * while the polling goes on.
 */
function follow(run, uploadId, parts, finished, firstOnly = false) {
  let first;
  const settled = new Promise((resolve) => { first = resolve; });
  const step = async () => {
    if (!run.isConnected) return; // the page was left
    let upload;
    try {
      upload = await get(`/api/v1/uploads/${encodeURIComponent(uploadId)}`);
    } catch (error) {
      console.warn("upload status failed:", error);
      refused(run, parts.bar, parts.status, parts.body, error, () => step());
      first();
      return;
    }
    const done = await drawUpload(run, upload, parts);
    first();
    if (done) finished();
    else setTimeout(step, POLL_MS);
  };
  step();
  return firstOnly ? settled : Promise.resolve();
}

/** Update the run from one status answer; true once it is finished. */
async function drawUpload(run, upload, { bar, status, body }) {
  if (upload.status !== "done") run.dataset.status = upload.status;
  const heading = run.querySelector("h2");
  if (heading && heading.textContent === "Upload") heading.textContent = upload.filename;
  const p = upload.progress;
  if (upload.status === "queued") {
    setProgress(bar, "queued", 0);
    status.textContent = `Queued behind other uploads (${size(p.bytes_total)}).`;
    return false;
  }
  if (upload.status === "processing") {
    setProgress(bar, "processing", 100 * p.fraction);
    status.textContent = `Processing: ${int(p.rows_read)} rows read, ${size(p.bytes_done)} of `
      + `${size(p.bytes_total)} (${pct(p.fraction)}).`;
    return false;
  }
  if (upload.status === "failed") {
    bar.dataset.phase = "failed";
    bar.hidden = true;
    status.textContent = "Failed.";
    fill(body, h("div", { class: "state error upload-error", role: "alert" },
      h("p", {}, `The file could not be read: ${upload.error}`),
      h("p", {}, "Fix the file (or state its format and time zone above) and upload it again.")));
    return true;
  }
  setProgress(bar, "done", 100);
  status.textContent = `Done: ${int(p.rows_read)} rows read from ${size(p.bytes_total)}.`;
  await section(body, (el) => drawReport(el, upload));
  run.dataset.status = "done"; // set once the report is drawn
  return true;
}

// ---- the quality report ----------------------------------------------------------------

function tile(key, value, label) {
  return h("div", { class: "tile", dataset: { kpi: key, value: String(value) } },
    h("div", { class: "value" }, int(value)), h("div", { class: "label" }, label));
}

async function drawReport(element, upload) {
  const report = upload.report;
  const listed = await get("/api/v1/cameras"); // the upload may have added sources
  const zones = Object.fromEntries(listed.sources.map((s) => [s.source_id, s.timezone]));
  const sources = Object.keys(report.per_source);
  const range = report.time_range;
  const whole = localRange(range, sources.map((s) => zones[s] || "UTC"));
  fill(element,
    h("div", { class: "tiles", id: "report-tiles" },
      tile("rows_read", report.rows_read, "rows read"),
      tile("accepted", report.accepted, "accepted (new events)"),
      tile("duplicates", report.duplicates, "duplicates (already stored)"),
      tile("rejected", report.rejected, "rejected rows")),
    whole ? h("p", { id: "report-analytics" }, h("a", { class: "chip", href: routeHash(
      "analytics", null, { ...whole, source: sources.length === 1 ? sources[0] : null }) },
    "Dwell, occupancy and visitors of this upload →"),
    h("span", { class: "muted" }, ` ${whole.from} to ${whole.to}`)) : null,
    rejectedTable(report),
    h("h3", {}, "Time range and sources"),
    h("p", { id: "report-range" }, range.first
      ? `From ${localTime(range.first, "UTC")} to ${localTime(range.last, "UTC")} UTC.`
      : "No valid timestamps."),
    sourcesTable(report, zones, range),
    details(report));
}

/** Local first and last day of the range over the zones of the sources involved. */
function localRange(range, zones) {
  if (!range.first || !range.last) return null;
  const day = (iso, zone) => localTime(iso, zone).slice(0, 10);
  const all = zones.length ? zones : ["UTC"];
  const froms = all.map((zone) => day(range.first, zone)).sort();
  const tos = all.map((zone) => day(range.last, zone)).sort();
  return { from: froms[0], to: tos[tos.length - 1] };
}

function rejectedTable(report) {
  const reasons = Object.entries(report.rejected_by_reason);
  if (!reasons.length) {
    return h("p", { id: "rejected-none", class: "muted" }, "No row was rejected.");
  }
  return h("div", {}, h("h3", {}, `Rejected rows by reason (${int(report.rejected)})`),
    h("table", { id: "rejected-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Reason"), h("th", {}, "Field"),
        h("th", { class: "num" }, "Rows"), h("th", {}, "Line numbers (header = line 1)"))),
      h("tbody", {}, reasons.map(([reason, info]) => h("tr", { dataset: { reason } },
        h("td", {}, h("code", {}, reason), h("div", { class: "muted" }, info.message)),
        h("td", {}, info.field || "–"),
        h("td", { class: "num" }, int(info.count)),
        h("td", { class: "lines", dataset: { lines: info.lines.join(",") } },
          info.lines.join(", "),
          info.count > info.lines.length
            ? h("div", { class: "muted" }, `the first ${int(info.lines.length)} of `
              + `${int(info.count)} are listed`) : null))))));
}

function sourcesTable(report, zones, range) {
  const entries = Object.entries(report.per_source);
  if (!entries.length) return h("p", { class: "muted" }, "No rows were accepted.");
  return h("table", { id: "report-sources" },
    h("thead", {}, h("tr", {}, h("th", {}, "Source"), h("th", {}, "Time zone"),
      h("th", { class: "num" }, "Valid rows"), h("th", {}, "Analytics"))),
    h("tbody", {}, entries.map(([source, count]) => {
      const local = localRange(range, [zones[source] || "UTC"]);
      return h("tr", { dataset: { source } },
        h("td", {}, h("a", { href: routeHash("camera", source, local || {}) }, source)),
        h("td", {}, zones[source] || "UTC"),
        h("td", { class: "num" }, int(count)),
        h("td", {}, local ? h("a", { href: routeHash("analytics", null,
          { ...local, source }) }, `${local.from} to ${local.to}`) : "–"));
    })));
}

function details(report) {
  const formats = Object.entries(report.timestamp_formats)
    .map(([name, n]) => `${name} ${int(n)}`).join(", ");
  const nulls = Object.entries(report.null_counts).filter(([, n]) => n > 0);
  return h("details", { id: "report-details" }, h("summary", {}, "More about the file"),
    h("p", {}, `Timestamp formats: ${formats || "–"}. Blank lines: ${int(report.blank_lines)}. `
      + `Rows padded with empty fields: ${int(report.padded_rows)}.`),
    nulls.length ? h("p", {}, "Empty values per column: ",
      nulls.map(([column, n]) => `${column} ${int(n)}`).join(", "), ".") : null);
}

// ---- every upload of the service ------------------------------------------------------

/** The newest uploads (any browser, script or key), with a button for older ones. */
async function drawHistory(element, current) {
  const page = await get("/api/v1/uploads", { limit: PAGE_SIZE });
  if (!current()) return;
  if (!page.uploads.length) {
    empty(element, "No uploads yet.",
      "Drop a file above. From a shell: ",
      h("code", {}, "curl -F file=@events.csv http://HOST/api/v1/uploads"),
      " (or load a file directly with ", h("code", {}, "vigil ingest events.csv"), ").");
    return;
  }
  const rows = h("tbody", {}, page.uploads.map(historyRow));
  const more = h("p", { class: "actions" });
  fill(element, h("p", { class: "muted" }, "Every upload this service has taken, newest ",
    "first; times in UTC. Open one to see its report."),
  h("table", { id: "history-table" }, h("thead", {}, h("tr", {},
    h("th", {}, "File"), h("th", {}, "Status"), h("th", {}, "Uploaded by"),
    h("th", {}, "Uploaded (UTC)"), h("th", { class: "num" }, "Took"),
    h("th", { class: "num" }, "Size"), h("th", { class: "num" }, "Rows read"),
    h("th", { class: "num" }, "Accepted"), h("th", { class: "num" }, "Duplicates"),
    h("th", { class: "num" }, "Rejected"))), rows), more);
  moreButton(more, rows, page.next_before);
}

/** "Load more": the next page of older uploads, appended to ``rows``. */
function moreButton(holder, rows, before) {
  if (!before) {
    holder.remove(); // nothing older: no button, no empty line
    return;
  }
  const button = h("button", { type: "button", class: "secondary", id: "history-more",
    onclick: async () => {
      button.disabled = true;
      button.textContent = "Loading…";
      try {
        const page = await get("/api/v1/uploads", { limit: PAGE_SIZE, before });
        rows.append(...page.uploads.map(historyRow));
        moreButton(holder, rows, page.next_before);
      } catch (error) {
        console.warn("older uploads failed:", error);
        button.disabled = false;
        button.textContent = "Load more (the last try failed)";
      }
    } }, "Load more");
  fill(holder, button);
}

function historyRow(u) {
  const number = (field, value) => h("td", { class: "num", dataset: { field,
    value: value === null ? "" : String(value) } }, int(value));
  const by = u.uploaded_by;
  const took = u.finished_at ? new Date(u.finished_at) - new Date(u.created_at) : null;
  return h("tr", { dataset: { uploadId: u.upload_id, status: u.status } },
    h("td", {}, h("a", { href: routeHash("uploads", null, { upload: u.upload_id }) },
      u.filename), u.error ? h("div", { class: "muted history-error" }, u.error) : null),
    h("td", {}, h("span", { class: `badge ${badge(u.status)}`, title: u.error || null },
      u.status)),
    h("td", { title: by ? `API key ${by.key_id}` : "sent without an API key" },
      by ? by.name || by.key_id : "–"),
    h("td", { style: NOWRAP }, localTime(u.created_at, "UTC")),
    h("td", { class: "num" }, took === null ? "–" : duration(Math.max(0, took))),
    h("td", { class: "num", style: NOWRAP }, size(u.bytes_total)),
    number("rows_read", u.rows_read), number("accepted", u.accepted),
    number("duplicates", u.duplicates), number("rejected", u.rejected));
}

function badge(status) {
  return { done: "ok", failed: "failed", processing: "learning", queued: "learning" }[status]
    || "low";
}

function size(bytes) {
  if (bytes === null || bytes === undefined) return "–";
  if (bytes < 1024) return `${int(bytes)} B`;
  if (bytes < MB) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / MB).toFixed(1)} MB`;
}
