"""The text of a bundle: many entities' daily summaries in one aggregate field.

The text is JSON ``{"summaries": {entity: fields}, "ints": {field: column}}`` where every
list of integers (or of equally long lists of integers) is moved into its field's column
(base64 of little-endian integers as narrow as the values allow) and left as ``null`` in
place: integer lists are most of a summary and parse far faster that way. See
:mod:`vigil.patterns.registry` for when summaries are bundled.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BUNDLE_BYTES", "bundle_texts", "decode_bundle", "encode_bundle"]

BUNDLE_BYTES = 48_000
"""Most bytes of a bundle's text, counting the backslash line protocol adds before each
``"`` and ``\\`` (a single entity larger than this gets a bundle of its own)."""
_INT_TYPES = tuple(np.dtype(f"<i{n}") for n in (1, 2, 4, 8))


def encode_bundle(summaries: Mapping[str, Mapping[str, Any]]) -> str:
    """The text of a bundle of ``{entity: fields}`` (see the module docstring)."""
    return _encode(summaries, _layouts(summaries))


def decode_bundle(text: str) -> dict[str, dict[str, Any]]:
    """``{entity: fields}`` of a bundle's text: integer lists (and lists of integer rows)
    back as lists of ``int``, exactly as JSON would give them."""
    data = json.loads(text)
    summaries: dict[str, dict[str, Any]] = data["summaries"]
    names = list(summaries)
    for field, column in data["ints"].items():
        kind, width = np.dtype(column["type"]), int(column["width"])
        if kind not in _INT_TYPES or width < 0:
            raise ValueError(f"column {field!r} has type {column['type']!r}, width {width}")
        flat = np.frombuffer(base64.b64decode(column["data"], validate=True), dtype=kind)
        values = (flat.reshape(-1, width) if width else flat).tolist()
        sizes = column["sizes"]
        if len(sizes) != len(names) or sum(n for n in sizes if n > 0) != len(values):
            raise ValueError(f"column {field!r} does not match its sizes")
        at = 0
        for name, size in zip(names, sizes, strict=True):
            if size >= 0:
                summaries[name][field] = values[at:at + size]
                at += size
    return summaries


@dataclass(frozen=True)
class _Layout:
    """How a field's integer lists are stored: as ``kind``, flat (``width`` 0) or as rows
    of ``width`` integers (a list of lists)."""

    kind: np.dtype[Any]
    width: int

    def fits(self, value: Any) -> bool:
        """Whether ``value`` is stored in the column (else it stays JSON); ``kind`` holds
        every such value of the summaries the layout was made for."""
        return _width(value, self.width)


def _width(value: Any, width: int) -> bool:
    """Whether ``value`` is a list of integers (``width`` 0) or of ``width``-long lists of
    integers (booleans are not integers here)."""
    if type(value) is not list:
        return False
    if width == 0:
        return all(type(x) is int for x in value)
    return all(type(row) is list and len(row) == width and all(type(x) is int for x in row)
               for row in value)


def _integers(value: list[Any], width: int) -> list[int]:
    return value if width == 0 else [x for row in value for x in row]


def _layouts(summaries: Mapping[str, Mapping[str, Any]]) -> dict[str, _Layout]:
    """Each field's column layout: the shape of its first non-empty list, the narrowest
    integer type of all its values of that shape (no column when 64 bits are too few)."""
    widths: dict[str, int] = {}
    for fields in summaries.values():
        for name, value in fields.items():
            if name not in widths and type(value) is list and value:
                first = value[0]
                widths[name] = len(first) if type(first) is list and first else 0
    low: dict[str, int] = {}
    high: dict[str, int] = {}
    for fields in summaries.values():
        for name, value in fields.items():
            if name in widths and _width(value, widths[name]):
                numbers = _integers(value, widths[name])
                low[name] = min(low.get(name, 0), min(numbers, default=0))
                high[name] = max(high.get(name, 0), max(numbers, default=0))
    found: dict[str, _Layout] = {}
    for name in low:
        kinds = [k for k in _INT_TYPES if np.iinfo(k).min <= low[name]
                 and high[name] <= np.iinfo(k).max]
        if kinds:
            found[name] = _Layout(kinds[0], widths[name])
    return found


def _encode(summaries: Mapping[str, Mapping[str, Any]], layouts: Mapping[str, _Layout]
            ) -> str:
    plain: dict[str, dict[str, Any]] = {}
    columns: dict[str, tuple[list[int], list[int]]] = {}
    for i, (entity, fields) in enumerate(summaries.items()):
        kept: dict[str, Any] = {}
        for name, value in fields.items():
            layout = layouts.get(name)
            if layout is not None and layout.fits(value):
                sizes, numbers = columns.setdefault(name, ([-1] * len(summaries), []))
                sizes[i] = len(value)
                numbers += _integers(value, layout.width)
                kept[name] = None
            else:
                kept[name] = value
        plain[entity] = kept
    ints = {name: {"type": layouts[name].kind.str, "width": layouts[name].width,
                   "sizes": sizes,
                   "data": base64.b64encode(np.asarray(numbers, dtype=layouts[name].kind)
                                            .tobytes()).decode("ascii")}
            for name, (sizes, numbers) in columns.items()}
    return json.dumps({"summaries": plain, "ints": ints}, separators=(",", ":"),
                      ensure_ascii=False, allow_nan=False)


def _stored_bytes(text: str) -> int:
    """Bytes of the text as a line-protocol string field (``"`` and ``\\`` escaped)."""
    return len(text.encode("utf-8")) + text.count('"') + text.count("\\")


def _entity_bytes(entity: str, fields: Mapping[str, Any], layouts: Mapping[str, _Layout]
                  ) -> int:
    """About what one entity adds to a bundle's text (a little more, rather than less)."""
    stored = {name: layouts[name] for name, value in fields.items()
              if name in layouts and layouts[name].fits(value)}
    plain = {name: (None if name in stored else value) for name, value in fields.items()}
    text = json.dumps({entity: plain}, separators=(",", ":"), ensure_ascii=False)
    typed = sum(-(-4 * len(_integers(fields[name], layout.width)) * layout.kind.itemsize
                  // 3) + 8 for name, layout in stored.items())
    return _stored_bytes(text) + typed


def bundle_texts(summaries: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, int]]:
    """Bundle texts of at most :data:`BUNDLE_BYTES` each, entities in order; with the
    number of entities in each."""
    layouts = _layouts(summaries)
    groups: list[list[str]] = [[]]
    budget = BUNDLE_BYTES - 200 - 80 * len(layouts)
    used = 0
    for entity, fields in summaries.items():
        size = _entity_bytes(entity, fields, layouts)
        if groups[-1] and used + size > budget:
            groups.append([])
            used = 0
        groups[-1].append(entity)
        used += size
    found: list[tuple[str, int]] = []
    for group in groups:
        found += _fitting(group, summaries, layouts)
    return found


def _fitting(group: list[str], summaries: Mapping[str, Mapping[str, Any]],
             layouts: Mapping[str, _Layout]) -> list[tuple[str, int]]:
    """The texts of ``group``'s summaries, halving the group until each fits."""
    text = _encode({entity: summaries[entity] for entity in group}, layouts)
    if _stored_bytes(text) <= BUNDLE_BYTES or len(group) == 1:
        return [(text, len(group))]
    half = len(group) // 2
    return _fitting(group[:half], summaries, layouts) + _fitting(group[half:], summaries,
                                                                 layouts)
