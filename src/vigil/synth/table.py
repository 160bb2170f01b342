"""Turn coded rows into the public Arrow table (column names, order and types)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.synth.config import CameraSpec
from vigil.synth.defects import (
    BAD_CONFIDENCE,
    BAD_TIMESTAMP,
    CONFIDENCE_OUT_OF_RANGE,
    SOURCE_ID_MISSING,
    TIMESTAMP_INVALID,
)
from vigil.synth.profiles import AGE_GROUPS, EVENT_TYPES, GENDERS, LABELS, NOVEL_LABELS
from vigil.synth.rows import Rows
from vigil.synth.slots import Int64s
from vigil.synth.timefmt import iso_utc_ms

SCHEMA = pa.schema(
    [
        ("event_id", pa.string()),
        ("timestamp", pa.string()),
        ("camera_id", pa.string()),
        ("event_type", pa.string()),
        ("label", pa.string()),
        ("confidence", pa.float64()),
        ("person_id", pa.string()),
        ("zone", pa.string()),
        ("model_id", pa.string()),
        ("frame_id", pa.int64()),
        ("age_group", pa.string()),
        ("gender", pa.string()),
    ]
)
"""The columns of :func:`vigil.synth.generate_events`, in order."""


def decode(codes: Int64s, values: list[str] | tuple[str, ...]) -> pa.Array:
    """Strings for codes; ``-1`` becomes null."""
    indices = pa.array(codes.astype(np.int32), mask=codes < 0)
    return pa.DictionaryArray.from_arrays(indices, pa.array(values, pa.string())).cast(pa.string())


def event_ids(prefix: str, n: int) -> pa.Array:
    """``<prefix>000000123`` style ids, numbered in table order."""
    numbers = pc.utf8_lpad(pa.array(np.arange(n, dtype=np.int64)).cast(pa.string()), 9, "0")
    return pc.binary_join_element_wise(prefix, numbers, "")


def build_table(
    rows: Rows,
    cameras: tuple[CameraSpec, ...],
    person_ids: list[str],
    id_prefix: str,
    defects: dict[str, Int64s],
) -> pa.Table:
    """The Arrow table of ``rows`` (already sorted), with ``defects`` applied."""
    n = len(rows)
    timestamps = iso_utc_ms(rows.ts_ms)
    bad_ts = np.zeros(n, dtype=bool)
    bad_ts[defects[TIMESTAMP_INVALID]] = True
    if bad_ts.any():
        timestamps = pc.if_else(pa.array(bad_ts), BAD_TIMESTAMP, timestamps)
    camera = rows.camera.copy()
    camera[defects[SOURCE_ID_MISSING]] = -1
    confidence = rows.confidence.copy()
    confidence[defects[CONFIDENCE_OUT_OF_RANGE]] = BAD_CONFIDENCE
    columns = [
        event_ids(id_prefix, n),
        timestamps,
        decode(camera, [c.camera_id for c in cameras]),
        decode(rows.event_type, EVENT_TYPES),
        decode(rows.label, LABELS + NOVEL_LABELS),
        pa.array(confidence, mask=np.isnan(confidence)),
        decode(rows.person, person_ids),
        decode(rows.camera, [c.zone for c in cameras]),
        decode(rows.camera, [c.model_id for c in cameras]),
        pa.array(rows.frame, mask=rows.frame < 0),
        decode(rows.age, AGE_GROUPS),
        decode(rows.gender, GENDERS),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEMA)
