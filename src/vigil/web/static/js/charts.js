// SVG charts with labelled axes, a colour-blind-safe palette (Okabe–Ito) and a text title
// on every mark. Every mark carries the class "mark" plus its kind (cell, bar, point…), so a
// page (and a test) can count what was drawn.

const SVG = "http://www.w3.org/2000/svg";
export const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00",
  "#F0E442", "#000000"];
const SEVERITY_COLOURS = { low: "#56B4E9", medium: "#E69F00", high: "#D55E00", critical: "#CC79A7" };
// viridis stops: readable for every common colour vision deficiency, dark = more
const VIRIDIS = ["#fde725", "#90d743", "#35b779", "#21918c", "#31688e", "#443983", "#440154"];

const WIDTH = 800;
const MARGIN = { top: 16, right: 16, bottom: 46, left: 62 };

function el(tag, attrs, title) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== null && value !== undefined) node.setAttribute(name, value);
  }
  if (title) {
    const tip = document.createElementNS(SVG, "title");
    tip.textContent = title;
    node.append(tip);
  }
  return node;
}

function svgRoot(height, label) {
  return el("svg", { viewBox: `0 0 ${WIDTH} ${height}`, class: "chart", role: "img",
    "aria-label": label, preserveAspectRatio: "xMidYMid meet" });
}

/** Round tick values for 0..max. */
export function niceTicks(max, count = 5) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let value = 0; value <= max + step * 1e-9; value += step) ticks.push(+value.toFixed(10));
  if (ticks[ticks.length - 1] < max) ticks.push(+(ticks[ticks.length - 1] + step).toFixed(10));
  return ticks;
}

/** A colour of the sequential scale for a share in [0, 1]. */
export function sequential(share) {
  const clamped = Math.max(0, Math.min(1, Number.isFinite(share) ? share : 0));
  return VIRIDIS[Math.round(clamped * (VIRIDIS.length - 1))];
}

function axisTitles(svg, height, xLabel, yLabel) {
  if (xLabel) {
    const title = el("text", { x: MARGIN.left + (WIDTH - MARGIN.left - MARGIN.right) / 2,
      y: height - 6, class: "axis-title", "text-anchor": "middle" });
    title.textContent = xLabel;
    svg.append(title);
  }
  if (yLabel) {
    const title = el("text", { x: 14, y: MARGIN.top + (height - MARGIN.top - MARGIN.bottom) / 2,
      class: "axis-title", "text-anchor": "middle",
      transform: `rotate(-90 14 ${MARGIN.top + (height - MARGIN.top - MARGIN.bottom) / 2})` });
    title.textContent = yLabel;
    svg.append(title);
  }
}

function yAxis(svg, scale, ticks, height, format) {
  for (const tick of ticks) {
    const y = scale(tick);
    svg.append(el("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y, y2: y,
      class: "grid" }));
    const label = el("text", { x: MARGIN.left - 6, y: y + 4, class: "tick", "text-anchor": "end" });
    label.textContent = format(tick);
    svg.append(label);
  }
}

/**
 * Labels under the x axis: ``ticks`` ([{index, label}]) when given, else every nth of
 * ``labels``. A label near either edge is anchored by that edge, so it is never cut off.
 */
function xLabels(svg, labels, position, height, ticks) {
  const every = Math.max(1, Math.ceil(labels.length / 12));
  const chosen = ticks || labels.map((label, index) => ({ index, label }))
    .filter(({ index }) => index % every === 0);
  for (const { index, label: text } of chosen) {
    const x = position(index);
    const anchor = x > WIDTH - MARGIN.right - 30 ? "end" : x < MARGIN.left + 20 ? "start" : "middle";
    const label = el("text", { x, y: height - MARGIN.bottom + 16, class: "tick",
      "text-anchor": anchor });
    label.textContent = text;
    svg.append(label);
  }
}

function legend(container, names, colours) {
  if (names.length < 2) return;
  const list = document.createElement("ul");
  list.className = "legend";
  names.forEach((name, index) => {
    const item = document.createElement("li");
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colours[index];
    item.append(swatch, name);
    list.append(item);
  });
  container.append(list);
}

/**
 * Hour × weekday heatmap: ``values[row][col]`` (rows = weekdays, cols = hours).
 * One ``rect.cell`` per value, coloured by its share of the largest value.
 */
export function heatmap(container, { rows, cols, values, unit = "events", xLabel, yLabel, label }) {
  const cell = (WIDTH - MARGIN.left - MARGIN.right) / cols.length;
  const height = MARGIN.top + rows.length * 26 + MARGIN.bottom;
  const svg = svgRoot(height, label || "heatmap");
  const max = Math.max(0, ...values.flat());
  rows.forEach((rowName, row) => {
    const text = el("text", { x: MARGIN.left - 6, y: MARGIN.top + row * 26 + 17, class: "tick",
      "text-anchor": "end" });
    text.textContent = rowName;
    svg.append(text);
    cols.forEach((colName, col) => {
      const value = values[row][col] || 0;
      svg.append(el("rect", { x: MARGIN.left + col * cell, y: MARGIN.top + row * 26,
        width: Math.max(1, cell - 1), height: 25, fill: max ? sequential(value / max) : "#eee",
        class: "mark cell", "data-value": value },
        `${rowName} ${colName}: ${formatValue(value)} ${unit}`));
    });
  });
  xLabels(svg, cols, (index) => MARGIN.left + index * cell + cell / 2, height);
  axisTitles(svg, height, xLabel, yLabel);
  container.append(svg);
  const scale = document.createElement("p");
  scale.className = "scale-note";
  scale.textContent = `Lighter = fewer, darker = more ${unit} (max ${formatValue(max)}).`;
  container.append(scale);
  return svg;
}

function formatValue(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/**
 * Bars: ``categories`` along x, one ``rect.bar`` per category and series (stacked or side by
 * side). ``series`` = [{name, values}].
 */
export function bars(container, { categories, series, stacked = false, xLabel, yLabel,
  unit = "", label, format = formatValue, height = 260, xTicks }) {
  const svg = svgRoot(height, label || "bar chart");
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotBottom = height - MARGIN.bottom;
  const totals = categories.map((_, i) => (stacked
    ? series.reduce((sum, s) => sum + (s.values[i] || 0), 0)
    : Math.max(0, ...series.map((s) => s.values[i] || 0))));
  const ticks = niceTicks(Math.max(0, ...totals));
  const top = ticks[ticks.length - 1] || 1;
  const y = (value) => plotBottom - (value / top) * (plotBottom - MARGIN.top);
  yAxis(svg, y, ticks, height, format);
  const band = plotWidth / Math.max(1, categories.length);
  const colours = series.map((s, i) => s.color || PALETTE[i % PALETTE.length]);
  categories.forEach((category, i) => {
    let base = 0;
    series.forEach((s, k) => {
      const value = s.values[i] || 0;
      const width = stacked ? band * 0.8 : (band * 0.8) / series.length;
      const x = MARGIN.left + i * band + band * 0.1 + (stacked ? 0 : k * width);
      const y0 = stacked ? y(base + value) : y(value);
      const barHeight = stacked ? y(base) - y(base + value) : plotBottom - y(value);
      svg.append(el("rect", { x, y: y0, width: Math.max(1, width - 1), height: Math.max(0, barHeight),
        fill: colours[k], class: "mark bar", "data-value": value, "data-series": s.name },
        `${category}${series.length > 1 ? ` · ${s.name}` : ""}: ${format(value)}${unit ? ` ${unit}` : ""}`));
      base += value;
    });
  });
  xLabels(svg, categories, (index) => MARGIN.left + index * band + band / 2, height, xTicks);
  axisTitles(svg, height, xLabel, yLabel);
  container.append(svg);
  legend(container, series.map((s) => s.name), colours);
  return svg;
}

/**
 * Lines over ``x`` (labels), with an optional band ``{low, high}`` (an expected range) and
 * markers ``[{index, title, severity}]`` (e.g. anomalies). One ``circle.point`` per value;
 * ``titles[i]`` replaces the tooltip of the points at ``i``; ``xTicks`` places the x labels.
 */
export function lines(container, { x, series, band, markers = [], xLabel, yLabel, unit = "",
  label, format = formatValue, height = 280, titles, xTicks }) {
  const svg = svgRoot(height, label || "line chart");
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotBottom = height - MARGIN.bottom;
  const values = series.flatMap((s) => s.values).concat(band ? band.high : []);
  const ticks = niceTicks(Math.max(0, ...values.filter((v) => v !== null && v !== undefined)));
  const top = ticks[ticks.length - 1] || 1;
  const y = (value) => plotBottom - (value / top) * (plotBottom - MARGIN.top);
  const step = x.length > 1 ? plotWidth / (x.length - 1) : 0;
  const px = (index) => MARGIN.left + (x.length > 1 ? index * step : plotWidth / 2);
  yAxis(svg, y, ticks, height, format);
  if (band) {
    const known = x.map((_, i) => i).filter((i) => band.low[i] !== null && band.high[i] !== null);
    if (known.length) {
      const upper = known.map((i) => `${px(i)},${y(band.high[i])}`);
      const lower = known.slice().reverse().map((i) => `${px(i)},${y(band.low[i])}`);
      svg.append(el("path", { d: `M${upper.join("L")}L${lower.join("L")}Z`, class: "mark band",
        fill: "#56B4E9", "fill-opacity": 0.25 }, band.title || "expected range"));
    }
  }
  const colours = series.map((s, i) => s.color || PALETTE[i % PALETTE.length]);
  series.forEach((s, k) => {
    const drawn = s.values.map((v, i) => [v, i]).filter(([v]) => v !== null && v !== undefined);
    if (drawn.length) {
      svg.append(el("path", { d: `M${drawn.map(([v, i]) => `${px(i)},${y(v)}`).join("L")}`,
        class: "line", fill: "none", stroke: colours[k], "stroke-width": 2,
        "stroke-dasharray": s.dashed ? "6 4" : null }));
    }
    for (const [v, i] of drawn) {
      svg.append(el("circle", { cx: px(i), cy: y(v), r: x.length > 60 ? 1.8 : 3.2,
        fill: colours[k], class: "mark point", "data-value": v, "data-series": s.name },
        titles && titles[i] ? titles[i]
          : `${x[i]}${series.length > 1 ? ` · ${s.name}` : ""}: ${format(v)}${unit ? ` ${unit}` : ""}`));
    }
  });
  for (const marker of markers) {
    const colour = SEVERITY_COLOURS[marker.severity] || "#D55E00";
    svg.append(el("path", {
      d: `M${px(marker.index)},${MARGIN.top}l-6,-10h12z`, fill: colour,
      class: "mark marker", "data-anomaly": marker.id ?? "" }, marker.title));
    svg.append(el("line", { x1: px(marker.index), x2: px(marker.index), y1: MARGIN.top,
      y2: plotBottom, stroke: colour, "stroke-dasharray": "3 3", class: "marker-line" }));
  }
  xLabels(svg, x, px, height, xTicks);
  axisTitles(svg, height, xLabel, yLabel);
  container.append(svg);
  legend(container, series.map((s) => s.name).concat(band ? [band.title || "expected range"] : []),
    colours.concat(band ? ["#56B4E966"] : []));
  return svg;
}
