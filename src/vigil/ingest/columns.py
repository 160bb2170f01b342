"""Input column names: aliases, user renames (``--map COL=field``) and required columns."""

from __future__ import annotations

from collections.abc import Sequence

FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "event_id": ("event_id", "id"),
    "source_id": ("source_id", "camera_id", "entity_id", "camera"),
    "event_type": ("event_type", "type"),
    "timestamp": ("timestamp", "time", "ts"),
    "label": ("label", "object_type"),
    "labels": ("labels",),
    "confidence": ("confidence", "score"),
    "model_id": ("model_id", "model"),
    "frame_id": ("frame_id", "frame"),
    "subject_id": ("subject_id", "person_id", "track_id"),
    "zone": ("zone", "area", "room"),
    "state": ("state",),
    "detections": ("detections",),
}
REQUIRED = {
    "timestamp": "timestamp",
    "source_id": "camera_id (or source_id)",
    "event_type": "event_type",
}


class ColumnError(ValueError):
    """The header cannot be used (a required column is missing, a name repeats, ...)."""


def parse_column_map(pairs: Sequence[str]) -> dict[str, str]:
    """``["cam=camera_id", ...]`` as a dict; raises ``ColumnError`` on a malformed pair."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        column, sep, target = pair.partition("=")
        if not sep or not column.strip() or not target.strip():
            raise ColumnError(f"--map expects COLUMN=field, got {pair!r}")
        mapping[column.strip().lower()] = target.strip().lower()
    return mapping


def resolve_columns(header: Sequence[str], mapping: dict[str, str] | None = None
                    ) -> tuple[dict[str, str], list[str]]:
    """Map known fields to the header column that holds them; the rest are attributes.

    Returns ``(field -> column, attribute columns)``. Raises ``ColumnError`` when a required
    column is missing or a column name repeats.
    """
    names = [h.strip().lower() for h in header]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ColumnError(f"column name(s) repeated in the header: {', '.join(repeated)}")
    renamed = {n: (mapping or {}).get(n, n) for n in names}
    fields: dict[str, str] = {}
    for target, aliases in FIELD_ALIASES.items():
        for column, as_named in renamed.items():
            if as_named in aliases and target not in fields:
                fields[target] = column
    missing = [label for key, label in REQUIRED.items() if key not in fields]
    if missing:
        raise ColumnError(
            f"missing required column(s): {', '.join(missing)}; header has: {', '.join(names)}"
        )
    used = set(fields.values())
    return fields, [n for n in names if n not in used]
