"""The SQL aggregate store: records in the ``aggregates`` table of the main store.

It keeps every record it is given: retention in SQL is the purge job's, not the writer's, so
:attr:`WriteResult.outside_retention` is always empty here.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vigil.rollup.aggregates import (
    AggregateRecord,
    Clock,
    NotNumericError,
    WriteResult,
    aggregate_result,
    check_agg,
    check_query,
    decode_fields,
    encode_fields,
    last_of_each_key,
    sort_records,
    utc_now,
)

if TYPE_CHECKING:
    from vigil.store.base import Store

__all__ = ["SqlAggregateStore"]

log = logging.getLogger(__name__)


class SqlAggregateStore:
    """Aggregate records in the main store (DuckDB or PostgreSQL); see the module docstring.

    ``clock`` gives the ``written_at`` time of each batch.
    """

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self.store = store
        self._clock = clock

    def write(self, record: AggregateRecord) -> WriteResult:
        return self.write_batch([record])

    def write_batch(self, records: Iterable[AggregateRecord]) -> WriteResult:
        """Upsert the records in one transaction (the last of a repeated key wins)."""
        batch = last_of_each_key(records)
        rows = [(r.layer, r.detector, r.entity, r.bucket,
                 json.dumps(encode_fields(r.fields), ensure_ascii=False, allow_nan=False))
                for r in batch]
        return WriteResult(self.store.write_aggregate_rows(rows, self._clock()))

    def query(self, start: dt.date, end: dt.date, detector: str | None = None,
              entity: str | None = None, layer: str = "daily") -> list[AggregateRecord]:
        check_query(start, end, layer, detector, entity)
        rows = self.store.read_aggregate_rows(layer, start, end, detector, entity)
        return sort_records(AggregateRecord.from_store(a, d, e, b, _fields(f, (a, d, e, b)))
                            for a, d, e, b, f in rows)

    def aggregate(self, start: dt.date, end: dt.date, field: str, agg: str,
                  detector: str | None = None, entity: str | None = None,
                  layer: str = "daily") -> float | int | None:
        check_agg(agg)
        check_query(start, end, layer, detector, entity)
        total, numeric, present = self.store.aggregate_field(layer, start, end, field,
                                                             detector, entity)
        if agg != "count" and numeric < present:
            raise NotNumericError(f"cannot {agg} field {field!r}: {present - numeric} of "
                                  "its values are not numbers")
        return aggregate_result(agg, total, numeric, present)

    def close(self) -> None:
        """Nothing to close: the main store is its owner's to close."""


def _fields(text: str, key: tuple[Any, ...]) -> dict[str, Any]:
    """A stored ``fields`` column decoded (JSON values parsed, see decode_fields)."""
    stored = json.loads(text)  # the column's type guarantees valid JSON
    if not isinstance(stored, dict):
        log.warning("aggregate %s: fields are not a JSON object; returned as 'value'", key)
        stored = {"value": stored}
    return decode_fields(stored, where="/".join(str(part) for part in key))
