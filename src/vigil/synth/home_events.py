"""Activations of smart-home entities as Home Assistant ``state_changed`` events.

An activation is one entity turned on at one instant and off at a later one. Each becomes
two events in the store's input schema (:data:`vigil.store.base.EVENT_INPUT_SCHEMA`): the
change to ``on`` (``old_state`` ``off``) and back to ``off``, labelled with the entity's
domain, with ``attributes`` as JSON text ``{"old_state": ..., "domain": ...}``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from vigil.store.base import EVENT_INPUT_SCHEMA

__all__ = ["Activations", "activation_table", "concat_activations", "id_tag", "separate"]

Int64s = npt.NDArray[np.int64]
MIN_ON_MS = 1_000
"""The shortest an activation lasts; separating overlaps never goes below it."""


@dataclass(frozen=True)
class Activations:
    """Parallel arrays: entity code (index into the home's entity list), on and off (UTC ms)."""

    entity: Int64s
    on_ms: Int64s
    off_ms: Int64s

    def __len__(self) -> int:
        return int(self.entity.size)


def concat_activations(parts: list[Activations]) -> Activations:
    """All parts one after another."""
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Activations(empty, empty, empty)
    return Activations(*(np.concatenate([getattr(p, name) for p in parts]).astype(np.int64)
                         for name in ("entity", "on_ms", "off_ms")))


def separate(acts: Activations) -> Activations:
    """Activations of one entity made disjoint: sorted by entity and start, each one ends
    before the entity's next one starts (at least :data:`MIN_ON_MS` after its own start;
    starts closer than that are moved apart)."""
    order = np.lexsort((acts.on_ms, acts.entity))
    entity, on, off = acts.entity[order], acts.on_ms[order].copy(), acts.off_ms[order].copy()
    same = np.zeros(entity.size, dtype=bool)
    same[1:] = entity[1:] == entity[:-1]
    while True:  # starts too close: push the later one (rare; a few rounds at most)
        close = np.flatnonzero(same[1:] & (on[1:] < on[:-1] + 2 * MIN_ON_MS)) + 1
        if not close.size:
            break
        on[close] = on[close - 1] + 2 * MIN_ON_MS
    off = np.maximum(off, on + MIN_ON_MS)
    next_on = np.full(entity.size, np.iinfo(np.int64).max, dtype=np.int64)
    next_on[:-1][same[1:]] = on[1:][same[1:]]
    off = np.minimum(off, next_on - MIN_ON_MS // 2)
    return Activations(entity, on, off)


def _event_ids(tag: str, n: int) -> pa.Array:
    numbers = pc.utf8_lpad(pa.array(np.arange(n, dtype=np.int64)).cast(pa.string()), 9, "0")
    return pc.binary_join_element_wise(f"ha-{tag}-", numbers, "")


def _strings(codes: Int64s, values: list[str]) -> pa.Array:
    indices = pa.array(codes.astype(np.int32))
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, pa.string())).cast(pa.string())


def activation_table(acts: Activations, entities: list[str], areas: list[str] | None,
                     id_tag: str) -> pa.Table:
    """The events of ``acts`` sorted by time (on before off at the same instant), ids
    ``ha-<id_tag>-000000000`` numbered in that order. ``areas`` (per entity) fills the
    ``zone`` column; ``None`` leaves it null (the area then comes from the source)."""
    n = len(acts)
    ts = np.concatenate([acts.on_ms, acts.off_ms])
    entity = np.concatenate([acts.entity, acts.entity])
    is_off = np.concatenate([np.zeros(n, dtype=np.int64), np.ones(n, dtype=np.int64)])
    order = np.lexsort((entity, is_off, ts))
    ts, entity, is_off = ts[order], entity[order], is_off[order]
    domains = [e.split(".", 1)[0] for e in entities]
    domain_of = np.array([sorted(set(domains)).index(d) for d in domains], dtype=np.int64)
    domain = _strings(domain_of[entity] if entity.size else entity, sorted(set(domains)))
    total = 2 * n
    attributes = pc.binary_join_element_wise(
        '{"old_state": "', _strings(1 - is_off, ["on", "off"]), '", "domain": "', domain,
        '"}', "")
    labels = pa.ListArray.from_arrays(pa.array(np.arange(total + 1, dtype=np.int32)), domain)
    nulls = pa.nulls(total, pa.string())
    zone = nulls if areas is None else _strings(entity, areas)
    columns = {
        "event_id": _event_ids(id_tag, total),
        "source_id": _strings(entity, entities),
        "event_type": pa.array(np.full(total, "state_changed", dtype=object), pa.string()),
        "ts": pa.array(ts * 1000, pa.timestamp("us", tz="UTC")),
        "labels": labels,
        "confidence": pa.nulls(total, pa.float64()),
        "model_id": nulls, "frame_id": pa.nulls(total, pa.int64()), "subject_id": nulls,
        "zone": zone,
        "state": _strings(is_off, ["on", "off"]),
        "detections": nulls,
        "attributes": attributes,
    }
    return pa.table(columns, schema=EVENT_INPUT_SCHEMA)


def id_tag(text: str) -> str:
    """A short hash of ``text``: other configurations give other event ids."""
    return hashlib.sha256(text.encode()).hexdigest()[:6]
