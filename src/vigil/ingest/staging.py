"""The staging schema: typed rows from any input, before timestamps and ids are resolved."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from vigil.store.base import EVENT_INPUT_SCHEMA

# The event columns as they arrive: the timestamp still text, to be parsed when finalising.
STAGED_SCHEMA = pa.schema(
    [
        ("row_ref", pa.int64()),  # 1-based line number (files) or 0-based index (HTTP)
        ("pre_reason", pa.string()),  # rejection found before finalising, else null
    ]
    + [("timestamp", pa.string()) if f.name == "ts" else (f.name, f.type)
       for f in EVENT_INPUT_SCHEMA]
)


def staged_from_rows(rows: list[dict[str, Any]]) -> pa.Table:
    """A staging table from row dicts (missing keys are null)."""
    columns = {name: [row.get(name) for row in rows] for name in STAGED_SCHEMA.names}
    return pa.table(columns, schema=STAGED_SCHEMA)
