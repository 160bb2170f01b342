"""``generate_events``: the synthetic event table for a :class:`SynthConfig`."""

from __future__ import annotations

import hashlib

import numpy as np
import pyarrow as pa

from vigil.synth.anomalies import anomaly_records, attach_records, inject_anomalies
from vigil.synth.config import SynthConfig
from vigil.synth.defects import choose_defects
from vigil.synth.detections import detection_rows
from vigil.synth.plan import build_plan, exact_totals, random_totals
from vigil.synth.rows import DETECTION, concat_rows, sort_rows
from vigil.synth.table import build_table
from vigil.synth.visits import visit_rows

_PLAN, _TOTALS, _DETECTIONS, _VISITS, _DEFECTS, _ANOMALIES = range(6)


def stream(config: SynthConfig, purpose: int) -> np.random.Generator:
    """An independent random stream per purpose, so e.g. defects never move clean rows."""
    return np.random.default_rng([config.seed, purpose])


def id_prefix(config: SynthConfig) -> str:
    """``syn-<tag>-``: the tag is a hash of the config, so other configs give other ids."""
    text = repr(config)  # leaves out the anomaly fields, so ids without anomalies never change
    if config.anomalies:
        text += repr((config.anomalies, config.anomaly_count, config.anomaly_warmup_days))
    tag = hashlib.sha256(text.encode()).hexdigest()[:6]
    return f"syn-{tag}-"


def generate_events(config: SynthConfig | None = None) -> pa.Table:
    """Generate the events of ``config`` (default: :class:`SynthConfig()`), sorted by time."""
    config = config or SynthConfig()
    plan = build_plan(config, stream(config, _PLAN))
    if config.rows is None:
        totals = random_totals(plan, config.incomplete_fraction, stream(config, _TOTALS))
    else:
        totals = exact_totals(config.rows, plan, config.incomplete_fraction)
    n_detections, n_visits, n_incomplete = totals
    detections = detection_rows(config.cameras, plan, n_detections, stream(config, _DETECTIONS))
    visits, persons = visit_rows(
        config.cameras, plan, config.days, n_visits, n_incomplete, stream(config, _VISITS)
    )
    rows = sort_rows(concat_rows([detections, visits]))
    if not config.anomalies:
        defects = choose_defects(
            len(rows), rows.event_type == DETECTION, config.bad_fraction, stream(config, _DEFECTS)
        )
        return build_table(rows, config.cameras, persons, id_prefix(config), defects)
    injection = inject_anomalies(config, plan, rows, stream(config, _ANOMALIES))
    rows = injection.rows
    defects = choose_defects(
        len(rows),
        rows.event_type == DETECTION,
        config.bad_fraction,
        stream(config, _DEFECTS),
        protected=injection.owner >= 0,
    )
    table = build_table(rows, config.cameras, persons, id_prefix(config), defects)
    records = anomaly_records(config, injection, table.column("event_id").combine_chunks())
    return attach_records(table, records)
