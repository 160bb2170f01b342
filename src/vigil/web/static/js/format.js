// Number, duration and time formats used across the pages.

const integer = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

export const int = (value) => (value === null || value === undefined ? "–" : integer.format(value));
export const num = (value) => (value === null || value === undefined ? "–" : decimal.format(value));
export const pct = (value) => (value === null || value === undefined ? "–" : `${decimal.format(value * 100)} %`);

/** Milliseconds as "1 h 05 min", "12 min", "40 s". */
export function duration(ms) {
  if (ms === null || ms === undefined) return "–";
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** An instant shown in a zone (the source's local time), e.g. "2026-03-22 14:05". */
export function localTime(iso, timeZone) {
  if (!iso) return "–";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: timeZone || "UTC", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(iso));
  const part = Object.fromEntries(parts.map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day} ${part.hour}:${part.minute}`;
}

/** How long ago an instant was, relative to ``now`` (a Date). */
export function ago(iso, now) {
  if (!iso) return "never";
  const seconds = Math.max(0, (now - new Date(iso)) / 1000);
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} days ago`;
}

export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** ISO date (YYYY-MM-DD) of a Date, in UTC. */
export const isoDate = (date) => date.toISOString().slice(0, 10);

/** ``iso`` plus ``days`` days. */
export function addDays(iso, days) {
  const date = new Date(`${iso}T00:00:00Z`);
  date.setUTCDate(date.getUTCDate() + days);
  return isoDate(date);
}

/** Wall clock minus UTC, in ms, of ``timeZone`` at the instant ``ms``. */
export function zoneOffset(ms, timeZone) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-US", {
    timeZone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(ms)).map((p) => [p.type, Number(p.value)]));
  const wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute,
    parts.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** The instant (a Date) a local day (YYYY-MM-DD) begins in ``timeZone``, DST included. */
export function localMidnight(isoDay, timeZone) {
  const wall = Date.parse(`${isoDay}T00:00:00Z`);
  const guess = wall - zoneOffset(wall, timeZone);
  return new Date(wall - zoneOffset(guess, timeZone));
}
