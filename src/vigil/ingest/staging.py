"""The staging schema: typed rows from any input, before timestamps and ids are resolved."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

STAGED_SCHEMA = pa.schema(
    [
        ("row_ref", pa.int64()),  # 1-based line number (files) or 0-based index (HTTP)
        ("pre_reason", pa.string()),  # rejection found before finalising, else null
        ("event_id", pa.string()),
        ("source_id", pa.string()),
        ("event_type", pa.string()),
        ("timestamp", pa.string()),
        ("labels", pa.list_(pa.string())),
        ("confidence", pa.float64()),
        ("model_id", pa.string()),
        ("frame_id", pa.int64()),
        ("subject_id", pa.string()),
        ("zone", pa.string()),
        ("state", pa.string()),
        ("detections", pa.string()),
        ("attributes", pa.string()),
    ]
)


def staged_from_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """A staging table from row dicts (missing keys are null)."""
    columns = {name: [row.get(name) for row in rows] for name in STAGED_SCHEMA.names}
    return pa.table(columns, schema=STAGED_SCHEMA)
