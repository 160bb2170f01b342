// Small DOM helpers: build elements, and the loading / empty / error states every page uses.

/** ``h("p", {class: "x"}, "text", child)``: an element with attributes and children. */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name, value === true ? "" : value);
    }
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of ``element``. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

export function loading(element, what = "Loading…") {
  return fill(element, h("p", { class: "state loading", role: "status" }, what));
}

/** An empty state that says what to do, e.g. which command fills it. */
export function empty(element, message, ...hint) {
  return fill(element, h("div", { class: "state empty" }, h("p", {}, message),
    hint.length ? h("p", { class: "hint" }, ...hint) : null));
}

/** An error state naming the status, the message and the field the server blamed. */
export function failed(element, error) {
  const field = error && error.field ? ` (field: ${error.field})` : "";
  const status = error && error.status ? `${error.status}: ` : "";
  return fill(element, h("div", { class: "state error", role: "alert" },
    h("p", {}, `Could not load this: ${status}${error ? error.message : "unknown error"}${field}`)));
}

/** A titled card. */
export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, ...children);
}

/** Append a titled card to ``parent`` and return its body (what ``section`` fills). */
export function cardBody(parent, title, id) {
  const body = h("div", { class: "card-body" });
  parent.append(h("section", { class: "card", id }, h("h2", {}, title), body));
  return body;
}

/** Run ``load`` into ``element`` with a loading state first and an error state on failure. */
export async function section(element, load, what) {
  loading(element, what);
  try {
    await load(element);
  } catch (error) {
    console.warn("section failed:", error);
    failed(element, error);
  }
}
