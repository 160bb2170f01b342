"""Area mapping files: which room or area each source (camera, entity) is in.

Two shapes are read: CSV with a header holding ``entity_id`` (or ``source_id`` /
``camera_id``) and ``area`` columns, one source per line (an empty area clears it), and a
JSON object ``{"light.kitchen": "Kitchen", ...}`` (``null`` clears). Problems are reported
with the line number (CSV and JSON syntax) or the key (JSON values).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from vigil.model import MAX_ID_LENGTH

__all__ = ["MAX_AREA_LENGTH", "AreaMappingError", "check_area", "parse_area_mapping",
           "read_area_mapping"]

MAX_AREA_LENGTH = 128
ID_COLUMNS = ("entity_id", "source_id", "camera_id")


class AreaMappingError(ValueError):
    """A mapping file that cannot be used; the message names the line or key."""


def check_area(value: Any) -> str | None:
    """An area as stored: stripped text, ``None`` to clear; raises ``ValueError``."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError("area must be text or null")
    area = value.strip()
    if not area:
        raise ValueError("area must not be blank (use null to clear it)")
    if len(area) > MAX_AREA_LENGTH:
        raise ValueError(f"area is longer than {MAX_AREA_LENGTH} characters")
    return area


def read_area_mapping(path: Path) -> dict[str, str | None]:
    """The mapping ``source id -> area`` (``None``: clear) of a file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AreaMappingError(f"cannot read {path}: {exc}") from exc
    try:
        return parse_area_mapping(text)
    except AreaMappingError as exc:
        raise AreaMappingError(f"{path}: {exc}") from exc


def parse_area_mapping(text: str) -> dict[str, str | None]:
    """The mapping of a file's text: JSON when it starts with ``{``, else CSV."""
    if text.lstrip().startswith("{"):
        return _from_json(text)
    return _from_csv(text)


def _source_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AreaMappingError(f"{where}: the entity id is empty")
    if len(value.strip()) > MAX_ID_LENGTH:
        raise AreaMappingError(f"{where}: the entity id is longer than {MAX_ID_LENGTH} "
                               "characters")
    return value.strip()


def _from_json(text: str) -> dict[str, str | None]:
    try:
        mapping = json.loads(text)
    except json.JSONDecodeError as exc:
        raise AreaMappingError(f"line {exc.lineno}: not JSON: {exc.msg} "
                               f"(column {exc.colno})") from exc
    if not isinstance(mapping, dict):
        raise AreaMappingError('expected a JSON object {"entity_id": "area", ...}')
    areas: dict[str, str | None] = {}
    for key, value in mapping.items():
        source_id = _source_id(key, f"key {key!r}")
        try:
            areas[source_id] = check_area(value)
        except ValueError as exc:
            raise AreaMappingError(f"key {key!r}: {exc}") from exc
    return areas


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """The non-blank records with the line each ends on."""
    reader = csv.reader(io.StringIO(text))
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield reader.line_num, row
    except csv.Error as exc:
        raise AreaMappingError(f"line {reader.line_num}: not CSV: {exc}") from exc


def _from_csv(text: str) -> dict[str, str | None]:
    rows = _csv_rows(text)
    header_line, header = next(rows, (0, []))
    names = [cell.strip().lower() for cell in header]
    id_column = next((names.index(c) for c in ID_COLUMNS if c in names), None)
    if id_column is None or "area" not in names:
        raise AreaMappingError(f"line {header_line or 1}: expected a header with entity_id "
                               "and area columns (or a JSON object)")
    area_column = names.index("area")
    areas: dict[str, str | None] = {}
    first_line: dict[str, int] = {}
    for number, row in rows:
        if len(row) != len(names):
            raise AreaMappingError(f"line {number}: {len(row)} fields, the header has "
                                   f"{len(names)}")
        source_id = _source_id(row[id_column], f"line {number}")
        cell = row[area_column].strip()
        try:
            area = check_area(cell) if cell else None
        except ValueError as exc:
            raise AreaMappingError(f"line {number}: {exc}") from exc
        if source_id in areas and areas[source_id] != area:
            raise AreaMappingError(f"line {number}: {source_id} was given another area on "
                                   f"line {first_line[source_id]}")
        areas[source_id] = area
        first_line.setdefault(source_id, number)
    return areas
