"""SQL of alert rules and the alert delivery queue (a mixin of the SQL stores).

A delivery is one alert for one sink. It is queued ``pending`` in the same transaction as
the anomaly it reports, attempted by the dispatcher, and ends ``delivered`` or ``failed``
(attempts exhausted or refused for good); until then it stays ``pending`` with the time of
its next attempt, so nothing queued is lost when a sink is down or the service restarts.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vigil.store.sqlaccess import SqlAccess

DELIVERY_STATUSES = ("pending", "delivered", "failed")
DELIVERY_COLUMNS = ("delivery_id", "anomaly_id", "rule_id", "sink", "status", "attempts",
                    "next_attempt_at", "last_status_code", "last_error", "payload",
                    "created_at", "updated_at", "delivered_at")


@dataclass(frozen=True)
class NewDelivery:
    """An alert to send: which anomaly, which rule fired, which sink, what to send."""

    anomaly_id: int
    rule_id: str
    sink: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one attempt did; ``next_attempt_at`` is ``None`` when there is no retry."""

    delivery_id: int
    ok: bool
    status_code: int | None
    error: str | None
    next_attempt_at: dt.datetime | None


class AlertTables(SqlAccess):
    """Alert rules and deliveries, shared by the SQL stores."""

    # -- rules --------------------------------------------------------------------------------
    def list_alert_rules(self) -> list[dict[str, Any]]:
        """Every rule's definition (as saved), oldest first."""
        rows = self._rows("SELECT definition FROM alert_rules ORDER BY created_at, rule_id")
        return [_json(row[0]) for row in rows]

    def save_alert_rule(self, rule_id: str, definition: dict[str, Any], now: dt.datetime
                        ) -> bool:
        """Create or replace a rule; returns ``True`` when it is new."""
        with self.transaction():
            existed = bool(self._write("SELECT 1 FROM alert_rules WHERE rule_id = ?",
                                       [rule_id]))
            self._write("INSERT INTO alert_rules VALUES (?, ?, ?, ?) ON CONFLICT (rule_id) "
                        "DO UPDATE SET definition = excluded.definition, "
                        "updated_at = excluded.updated_at",
                        [rule_id, json.dumps(definition), now, now])
        return not existed

    def delete_alert_rule(self, rule_id: str) -> bool:
        """Delete a rule; ``False`` if there was none."""
        with self.transaction():
            return bool(self._write("DELETE FROM alert_rules WHERE rule_id = ? "
                                    "RETURNING rule_id", [rule_id]))

    # -- deliveries -------------------------------------------------------------------------
    def enqueue_deliveries(self, items: Sequence[NewDelivery], now: dt.datetime) -> list[int]:
        """Queue alerts for their sinks, due at once; returns their ids."""
        ids: list[int] = []
        with self.transaction():
            for item in items:
                rows = self._write(
                    f"INSERT INTO alert_deliveries ({', '.join(DELIVERY_COLUMNS[1:])}) "
                    "VALUES (?, ?, ?, 'pending', 0, ?, NULL, NULL, ?, ?, ?, NULL) "
                    "RETURNING delivery_id",
                    [item.anomaly_id, item.rule_id, item.sink, now, json.dumps(item.payload),
                     now, now])
                ids.append(int(rows[0][0]))
        return ids

    def due_deliveries(self, now: dt.datetime, limit: int) -> list[dict[str, Any]]:
        """Pending deliveries whose next attempt is due, oldest first."""
        rows = self._rows(f"SELECT {', '.join(DELIVERY_COLUMNS)} FROM alert_deliveries "
                          "WHERE status = 'pending' AND next_attempt_at <= ? "
                          "ORDER BY next_attempt_at, delivery_id LIMIT ?", [now, limit])
        return [_delivery(row) for row in rows]

    def next_delivery_due(self) -> dt.datetime | None:
        """When the earliest pending delivery is due (``None``: nothing pending)."""
        rows = self._rows("SELECT min(next_attempt_at) FROM alert_deliveries "
                          "WHERE status = 'pending'")
        value = rows[0][0] if rows else None
        return value if isinstance(value, dt.datetime) else None

    def record_delivery(self, outcome: DeliveryOutcome, now: dt.datetime) -> None:
        """Record an attempt: delivered, pending again (with its next time) or failed."""
        if outcome.ok:
            status = "delivered"
        elif outcome.next_attempt_at is not None:
            status = "pending"
        else:
            status = "failed"
        with self.transaction():
            self._write(
                "UPDATE alert_deliveries SET status = ?, attempts = attempts + 1, "
                "next_attempt_at = ?, last_status_code = ?, last_error = ?, updated_at = ?, "
                "delivered_at = ? WHERE delivery_id = ?",
                [status, outcome.next_attempt_at, outcome.status_code, outcome.error, now,
                 now if outcome.ok else None, outcome.delivery_id])

    def list_deliveries(self, status: str | None, limit: int, before_id: int | None = None
                        ) -> list[dict[str, Any]]:
        """The newest deliveries first, of one status when given."""
        filters = [] if status is None else [("status = ?", [status])]
        rows = self._newest_first("alert_deliveries", DELIVERY_COLUMNS, "delivery_id", filters,
                                  limit, before_id)
        return [_delivery(row) for row in rows]

    def count_deliveries(self) -> dict[str, int]:
        """How many deliveries there are per status."""
        return self._count_by_status("alert_deliveries")


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _delivery(row: tuple[Any, ...]) -> dict[str, Any]:
    record = dict(zip(DELIVERY_COLUMNS, row, strict=True))
    record["payload"] = _json(record["payload"])
    return record
