// What can be done to an anomaly in each status, doing it through the API, and what to say
// when it fails (a read key cannot change anomalies: that needs the ingest scope).

import { ApiError, forgetKey, post } from "./api.js";
import { h } from "./dom.js";

/** The actions: the API path, the button text and the statuses each applies to. */
export const ANOMALY_ACTIONS = [
  { path: "ack", title: "Acknowledge", from: ["open"] },
  { path: "false-positive", title: "False positive", from: ["open", "acknowledged"] },
  { path: "reopen", title: "Reopen", from: ["acknowledged", "false_positive"] },
];

/** The actions an anomaly in ``status`` offers. */
export function actionsFor(status) {
  return ANOMALY_ACTIONS.filter((action) => action.from.includes(status));
}

/** Apply ``action`` to the anomaly; resolves to the anomaly as the server now has it. */
export function applyAction(anomalyId, action) {
  return post(`/api/v1/anomalies/${anomalyId}/${action.path}`);
}

/** The text of a failed action; a 403 names the scope needed and offers another key. */
export function actionFailure(error, action, retry) {
  if (error instanceof ApiError && error.status === 403) {
    return ["A key with the ", h("code", {}, "ingest"), " scope is needed to change an anomaly ",
      `(${error.message}). `,
      h("button", { type: "button", class: "secondary", "data-action": "another-key",
        onclick: () => { forgetKey(); retry(); } }, "Use another key")];
  }
  const status = error && error.status ? `${error.status}: ` : "";
  return [`Could not ${action.title.toLowerCase()}: ${status}${error ? error.message : error}`];
}
