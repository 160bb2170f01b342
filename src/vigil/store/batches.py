"""Operations on batches of finalised events (Arrow tables of ``EVENT_INPUT_SCHEMA``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def first_of_each_event(table: pa.Table) -> pa.Table:
    """Drop repeats of an event (same id and timestamp), keeping the first occurrence."""
    if pc.count_distinct(table.column("event_id")).as_py() == table.num_rows:
        return table  # every id differs: nothing can repeat
    positions = pa.table({"event_id": table.column("event_id"), "ts": table.column("ts"),
                          "position": np.arange(table.num_rows)})
    firsts = positions.group_by(["event_id", "ts"], use_threads=False).aggregate(
        [("position", "min")]).column("position_min").to_numpy()
    if len(firsts) == table.num_rows:
        return table
    return table.take(np.sort(firsts))
