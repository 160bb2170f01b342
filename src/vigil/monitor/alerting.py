"""Which alerts to queue for a stored anomaly: the rules (with their cooldowns and caps)
and the configured sinks."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from vigil.anomaly.rules import AlertGate, AlertRule, RuleError, rule_from_dict
from vigil.metrics import ALERTS_QUEUED
from vigil.monitor.records import alert_payload
from vigil.store.alerts import NewDelivery

log = logging.getLogger(__name__)


class AlertPlanner:
    """Turns anomalies into deliveries, one per (rule that fires, sink of the rule)."""

    def __init__(self, sinks: Sequence[str]) -> None:
        self.sinks = tuple(sinks)
        self.gate = AlertGate([])
        self._definitions: list[dict[str, Any]] = []
        self._warned: set[str] = set()

    def load_rules(self, definitions: list[dict[str, Any]]) -> None:
        """Use these stored rule definitions (unchanged ones keep their cooldown state)."""
        if definitions == self._definitions:
            return
        rules: list[AlertRule] = []
        for definition in definitions:
            try:
                rules.append(rule_from_dict(definition))
            except RuleError as exc:
                log.warning("alert rule %s skipped: %s", definition.get("rule_id"), exc)
        self.gate.replace_rules(rules)
        self._definitions = definitions

    def plan(self, record: dict[str, Any], now: dt.datetime) -> list[NewDelivery]:
        """The deliveries for one new (or newly worse) anomaly."""
        deliveries = []
        for rule in self.gate.decide(record, now):
            for sink in self._sinks_of(rule):
                payload = alert_payload(record, rule.rule_id, rule.name)
                deliveries.append(NewDelivery(record["anomaly_id"], rule.rule_id, sink,
                                              payload))
        return deliveries

    def committed(self, deliveries: Sequence[NewDelivery]) -> None:
        """Count deliveries that are now queued for good."""
        for delivery in deliveries:
            ALERTS_QUEUED.labels(delivery.sink).inc()

    def _sinks_of(self, rule: AlertRule) -> tuple[str, ...]:
        wanted = rule.sinks or self.sinks
        missing = [s for s in wanted if s not in self.sinks]
        for sink in missing:
            if f"{rule.rule_id}/{sink}" not in self._warned:
                self._warned.add(f"{rule.rule_id}/{sink}")
                log.warning("alert rule %s names sink %r, which is not configured; "
                            "configured: %s", rule.rule_id, sink, ", ".join(self.sinks) or "none")
        return tuple(s for s in wanted if s in self.sinks)
