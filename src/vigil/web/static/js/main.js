// The dashboard shell: navigation, the filter bar and the page of the current route.

import { get } from "./api.js";
import { h, fill, failed, loading } from "./dom.js";
import { effectiveRange, renderFilters } from "./filters.js";
import { currentRoute, routeHash } from "./router.js";

/** Pages in navigation order: module name, title and the shared filters each uses. */
export const PAGES = [
  { name: "overview", title: "Overview", filters: [] },
  { name: "camera", title: "Camera", filters: ["range"] },
  { name: "anomalies", title: "Anomalies", filters: ["range", "source"] },
  { name: "analytics", title: "Analytics", filters: ["range", "source"] },
  { name: "patterns", title: "Patterns", filters: [] },
  { name: "uploads", title: "Uploads", filters: [] },
];

let renderCount = 0;

/** The camera the Camera link opens: the one shown, else the source filter's. */
function cameraOf(route) {
  return route.page === "camera" && route.arg ? route.arg : route.params.source || null;
}

function drawNav(route) {
  const keep = {};
  for (const name of ["from", "to", "source"]) {
    if (route.params[name]) keep[name] = route.params[name];
  }
  fill(document.getElementById("nav"), PAGES.map((page) => h("a", {
    href: routeHash(page.name, page.name === "camera" ? cameraOf(route) : null, keep),
    class: page.name === route.page ? "active" : null,
    "aria-current": page.name === route.page ? "page" : null,
  }, page.title)));
}

async function show() {
  const count = ++renderCount;
  const route = currentRoute();
  const page = PAGES.find((p) => p.name === route.page);
  const main = document.getElementById("page");
  drawNav(route);
  if (!page) {
    fill(main, h("div", { class: "state error" }, `No page "${route.page}". `,
      h("a", { href: "#/overview" }, "Go to the overview")));
    return;
  }
  document.title = `${page.title} · Vigil`;
  const root = h("div", { class: `page page-${page.name}`, "data-page": page.name });
  fill(main, root);
  loading(root);
  try {
    const [module, listed] = await Promise.all([import(`./pages/${page.name}.js`),
      get("/api/v1/cameras")]);
    if (count !== renderCount) return;
    const now = new Date();
    const sources = listed.sources;
    const range = effectiveRange(route.params, sources, now);
    renderFilters(document.getElementById("filters"), page.filters,
      { params: route.params, sources, range });
    fill(root);
    await module.render(root, { ...route, sources, range, now });
  } catch (error) {
    if (count !== renderCount) return;
    console.warn("page failed:", error);
    failed(root, error);
  } finally {
    if (count === renderCount) root.dataset.ready = "true";
  }
}

window.addEventListener("hashchange", show);
show();
