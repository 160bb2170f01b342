"""Ground truth of a generated table, recomputed from the table itself.

Nothing here reuses the generator's internals: timestamps are parsed back from their text,
local time comes from :mod:`zoneinfo`, and visits are rebuilt by pairing entry and exit
rows. Bad rows are located and classified, and excluded from every other statistic.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vigil.synth.anomalies import table_anomalies
from vigil.synth.config import SynthConfig
from vigil.synth.defects import (
    CONFIDENCE_OUT_OF_RANGE,
    REASONS,
    SOURCE_ID_MISSING,
    TIMESTAMP_INVALID,
)
from vigil.synth.localtime import local_day_hour
from vigil.synth.slots import Int64s, period_ms
from vigil.synth.timefmt import iso_utc_ms

ISO_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$"
FIRST_DATA_LINE = 2
"""CSV line of the first row (line 1 is the header)."""
EPOCH = date(1970, 1, 1)
Bools = np.ndarray


def _column(table: pa.Table, name: str) -> pa.Array:
    return table.column(name).combine_chunks()


def parse_timestamps(column: pa.Array) -> tuple[Bools, Int64s]:
    """Which values are ISO 8601 UTC instants, and their epoch ms (0 where not)."""
    ok = pc.fill_null(pc.match_substring_regex(column, ISO_UTC_PATTERN), False)
    filled = pc.if_else(ok, column, "1970-01-01T00:00:00Z")
    ms = pc.cast(filled, pa.timestamp("ms", tz="UTC")).cast(pa.int64())
    return ok.to_numpy(zero_copy_only=False), ms.to_numpy(zero_copy_only=False)


def camera_codes(column: pa.Array, camera_ids: list[str]) -> Int64s:
    """Index of each row's camera in ``camera_ids``; -1 where null or empty."""
    codes = pc.index_in(column, value_set=pa.array(camera_ids, pa.string()))
    missing = pc.or_(pc.is_null(column), pc.equal(pc.utf8_length(column), 0))
    unknown = pc.and_(pc.is_null(codes), pc.invert(pc.fill_null(missing, True)))
    if pc.any(unknown).as_py():
        raise ValueError("table has camera ids that are not in the config")
    result: Int64s = pc.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    return result


def defect_masks(table: pa.Table, ts_ok: Bools, camera: Int64s) -> dict[str, Bools]:
    """Rows per reason; a row gets only its first reason in :data:`REASONS` order."""
    conf = _column(table, "confidence")
    out_of_range = pc.or_(pc.less(conf, 0.0), pc.greater(conf, 1.0))
    conf_bad = pc.fill_null(pc.or_(out_of_range, pc.is_nan(conf)), False).to_numpy(
        zero_copy_only=False
    )
    raw = {
        TIMESTAMP_INVALID: ~ts_ok,
        CONFIDENCE_OUT_OF_RANGE: conf_bad,
        SOURCE_ID_MISSING: camera < 0,
    }
    taken = np.zeros(table.num_rows, dtype=bool)
    masks: dict[str, Bools] = {}
    for reason in REASONS:
        masks[reason] = raw[reason] & ~taken
        taken |= raw[reason]
    return masks


def _iso_date(days: int) -> str:
    return (EPOCH + timedelta(days=days)).isoformat()


def local_counts(
    config: SynthConfig, camera: Int64s, ts: Int64s
) -> tuple[Int64s, dict[str, dict[str, dict[str, int]]]]:
    """Local day of every (valid) row, and counts per camera by local hour, date, weekday.

    Dates cover every local date the period touches (the first and last are partial).
    """
    local_day = np.zeros(ts.size, dtype=np.int64)
    hours: dict[str, dict[str, int]] = {}
    dates: dict[str, dict[str, int]] = {}
    weekdays: dict[str, dict[str, int]] = {}
    first, end = period_ms(config.start, config.days)
    for c, spec in enumerate(config.cameras):
        mine = camera == c
        days, hour = local_day_hour(ts[mine], spec.timezone)
        local_day[mine] = days
        by_hour = np.bincount(hour, minlength=24)
        hours[spec.camera_id] = {f"{h:02d}": int(by_hour[h]) for h in range(24)}
        edges, _ = local_day_hour(np.array([first, end - 1], dtype=np.int64), spec.timezone)
        counted = dict.fromkeys(range(int(edges[0]), int(edges[1]) + 1), 0)
        values, counts = np.unique(days, return_counts=True)
        counted.update(zip(values.tolist(), counts.tolist(), strict=True))
        dates[spec.camera_id] = {_iso_date(d): counted[d] for d in sorted(counted)}
        by_weekday = np.bincount((days + EPOCH.weekday()) % 7, minlength=7)
        weekdays[spec.camera_id] = {str(w): int(by_weekday[w]) for w in range(7)}
    return local_day, {"hour": hours, "date": dates, "weekday": weekdays}


def grouped_counts(
    config: SynthConfig, camera: Int64s, column: pa.Array
) -> dict[str, dict[str, int]]:
    """Counts per camera and value of ``column`` (nulls skipped, zero counts left out)."""
    encoded = pc.dictionary_encode(column)
    names = encoded.dictionary.to_pylist()
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    keep = codes >= 0
    width = max(len(names), 1)
    counts = np.bincount(camera[keep] * width + codes[keep], minlength=len(config.cameras) * width)
    table = counts.reshape(len(config.cameras), width)
    order = sorted(range(len(names)), key=lambda i: str(names[i]))
    return {
        spec.camera_id: {str(names[i]): int(table[c, i]) for i in order if table[c, i]}
        for c, spec in enumerate(config.cameras)
    }


def visit_truth(
    config: SynthConfig, valid: pa.Table, camera: Int64s, ts: Int64s, local_day: Int64s
) -> dict[str, Any]:
    """Visits rebuilt by pairing each exit with an entry of the same person just before it."""
    kind = _column(valid, "event_type")
    person = _column(valid, "person_id")
    take = pc.and_(pc.is_in(kind, value_set=pa.array(["entry", "exit"])), pc.is_valid(person))
    mask = take.to_numpy(zero_copy_only=False)
    encoded = pc.dictionary_encode(person.filter(take))
    who = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    is_exit = pc.equal(kind.filter(take), "exit").to_numpy(zero_copy_only=False)
    cam, when, day = camera[mask], ts[mask], local_day[mask]
    order = np.lexsort((is_exit, when, who, cam))
    who, is_exit, cam, when, day = who[order], is_exit[order], cam[order], when[order], day[order]
    same = np.zeros(who.size, dtype=bool)
    same[1:] = (who[1:] == who[:-1]) & (cam[1:] == cam[:-1])
    paired = np.zeros(who.size, dtype=bool)
    paired[1:] = is_exit[1:] & ~is_exit[:-1] & same[1:]
    dwell = np.zeros(who.size, dtype=np.int64)
    dwell[1:] = np.where(paired[1:], when[1:] - when[:-1], 0)
    starts = ~is_exit | ~paired
    start_days = np.unique(np.stack([who[starts], day[starts]]), axis=1)
    per_person = np.bincount(start_days[0], minlength=len(encoded.dictionary))
    per_camera = {}
    for c, spec in enumerate(config.cameras):
        mine = cam == c
        complete = int((paired & mine).sum())
        per_camera[spec.camera_id] = {
            "complete": complete,
            "entry_without_exit": int((~is_exit & mine).sum()) - complete,
            "exit_without_entry": int((is_exit & mine).sum()) - complete,
            "dwell_ms_total": int(dwell[mine].sum()),
        }
    complete = int(paired.sum())
    return {
        "complete": complete,
        "entry_without_exit": int((~is_exit).sum()) - complete,
        "exit_without_entry": int(is_exit.sum()) - complete,
        "unique_persons": len(encoded.dictionary),
        "repeat_persons": int((per_person >= 2).sum()),
        "dwell_ms_total": int(dwell.sum()),
        "per_camera": per_camera,
    }


def period(config: SynthConfig) -> dict[str, Any]:
    """The covered UTC interval: ``start`` inclusive, ``end`` exclusive, and its days."""
    bounds = iso_utc_ms(np.array(period_ms(config.start, config.days), dtype=np.int64))
    return {"start": bounds[0].as_py(), "end": bounds[1].as_py(), "days": config.days}


def ground_truth(table: pa.Table, config: SynthConfig) -> dict[str, Any]:
    """Counts and facts that a correct ingest and analytics must reproduce (JSON-ready).

    With anomalies configured, ``anomalies`` lists the injected ones (the only part read
    from the generator: the records the table carries in its schema metadata).
    """
    ids = [spec.camera_id for spec in config.cameras]
    ts_ok, ts_all = parse_timestamps(_column(table, "timestamp"))
    camera_all = camera_codes(_column(table, "camera_id"), ids)
    masks = defect_masks(table, ts_ok, camera_all)
    bad = np.logical_or.reduce(list(masks.values()))
    valid = table.filter(pa.array(~bad))
    camera, ts = camera_all[~bad], ts_all[~bad]
    local_day, local = local_counts(config, camera, ts)
    per_camera = np.bincount(camera, minlength=len(ids))
    truth: dict[str, Any] = {
        "rows": table.num_rows,
        "valid_rows": valid.num_rows,
        "cameras": {spec.camera_id: spec.timezone for spec in config.cameras},
        "per_camera": {cid: int(per_camera[c]) for c, cid in enumerate(ids)},
        "per_camera_label": grouped_counts(config, camera, _column(valid, "label")),
        "per_camera_event_type": grouped_counts(config, camera, _column(valid, "event_type")),
        "per_camera_local_hour": local["hour"],
        "per_camera_local_date": local["date"],
        "per_camera_local_weekday": local["weekday"],
        "visits": visit_truth(config, valid, camera, ts, local_day),
        "bad_rows": {
            reason: (np.flatnonzero(mask) + FIRST_DATA_LINE).tolist()
            for reason, mask in masks.items()
        },
        "period": period(config),
    }
    if config.anomalies:
        truth["anomalies"] = table_anomalies(table)
    return truth
