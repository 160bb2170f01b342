// The API client: same origin, JSON, the session's API key, errors that name their field.

const KEY_STORAGE = "vigil.apiKey";

/** An API answer that was not 2xx: status, message and the field the server named. */
export class ApiError extends Error {
  constructor(status, message, field) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.field = field || null;
  }
}

let pendingPrompt = null;

/** The key kept for this tab (sessionStorage: gone when the tab closes). */
export function storedKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY_STORAGE);
}

/** Ask for a key in the dialog once, however many requests are waiting for it. */
function askForKey(reason) {
  if (pendingPrompt) return pendingPrompt;
  const dialog = document.getElementById("key-dialog");
  const input = document.getElementById("key-input");
  const error = document.getElementById("key-error");
  error.hidden = !reason;
  error.textContent = reason || "";
  input.value = "";
  pendingPrompt = new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      const key = input.value.trim();
      pendingPrompt = null;
      if (key) sessionStorage.setItem(KEY_STORAGE, key);
      resolve(Boolean(key));
    }, { once: true });
    dialog.showModal();
  });
  return pendingPrompt;
}

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const one of Array.isArray(value) ? value : [value]) search.append(name, one);
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

async function errorOf(response) {
  let message = `${response.status} ${response.statusText}`;
  let field = null;
  try {
    const body = await response.json();
    const detail = body.error || body.detail || body;
    if (typeof detail === "string") message = detail;
    else if (detail && detail.message) message = detail.message;
    field = (detail && detail.field) || body.field || null;
  } catch (_) {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, message, field);
}

/** Fetch a path of the API; on 401 ask for a key and try again. */
export async function request(method, path, { params, body, headers } = {}) {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const sent = { ...(headers || {}) };
    const key = storedKey();
    if (key) sent.Authorization = `Bearer ${key}`;
    const response = await fetch(path + query(params), { method, headers: sent, body });
    if (response.status === 401) {
      const problem = await errorOf(response);
      if (key && storedKey() === key) forgetKey();
      if (storedKey() && storedKey() !== key) continue; // a new key came meanwhile: try it
      const given = await askForKey(key ? problem.message : null);
      if (!given) throw problem;
      continue;
    }
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return null;
    return response.json();
  }
  throw new ApiError(401, "no valid API key was given", "authorization");
}

export const get = (path, params) => request("GET", path, { params });
export const post = (path, params) => request("POST", path, { params });
