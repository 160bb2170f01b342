// Hash routes: #/page/arg?from=…&to=…&source=… — shareable, and the back button works.

/** The current route: page name, optional argument and the query parameters. */
export function currentRoute() {
  const hash = location.hash.replace(/^#\/?/, "");
  const [path, search = ""] = hash.split("?");
  const [page, ...rest] = path.split("/").filter(Boolean);
  return {
    page: page || "overview",
    arg: rest.length ? decodeURIComponent(rest.join("/")) : null,
    params: Object.fromEntries(new URLSearchParams(search)),
  };
}

/** The hash of a route; empty parameters are left out. */
export function routeHash(page, arg, params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString();
  const path = arg ? `${page}/${encodeURIComponent(arg)}` : page;
  return `#/${path}${text ? `?${text}` : ""}`;
}

/** Go to a route; a new history entry unless ``replace``. */
export function navigate(page, arg, params, { replace = false } = {}) {
  const hash = routeHash(page, arg, params);
  if (hash === location.hash) return;
  if (replace) {
    history.replaceState(null, "", hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
  } else {
    location.hash = hash;
  }
}

/** Change some parameters of the current route (``null`` removes one). */
export function setParams(changes, options) {
  const route = currentRoute();
  const params = { ...route.params };
  for (const [name, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") delete params[name];
    else params[name] = value;
  }
  navigate(route.page, route.arg, params, options);
}
