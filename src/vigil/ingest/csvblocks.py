"""Split a CSV file into blocks of whole records, each record tagged with its line number.

Record boundaries, line numbers and field counts are found with numpy over the raw bytes
(a newline ends a record only outside double quotes), so a block can then be parsed by
Arrow's multi-threaded CSV reader while every row keeps the 1-based line on which it starts.
Blank lines are skipped; rows with fewer fields than the header are padded with empty
fields; rows with more are set aside as rejected.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

BOM = b"\xef\xbb\xbf"
MAX_RECORD_BYTES = 64 * 1024 * 1024
_NL, _QUOTE, _COMMA, _CR = 10, 34, 44, 13


class CsvFormatError(ValueError):
    """The file cannot be read as CSV at all (no header, unterminated quote, ...)."""


@dataclass
class CsvBlock:
    """Whole records ready for a CSV parser, and what was set aside."""

    data: bytes
    lines: np.ndarray  # 1-based line number of each record in ``data``
    rejected: list[tuple[int, str]] = field(default_factory=list)
    blank_lines: int = 0
    padded_rows: int = 0
    end_offset: int = 0  # bytes of the file consumed so far


@dataclass
class _Records:
    starts: np.ndarray
    ends: np.ndarray  # exclusive, without the line terminator
    lines: np.ndarray
    fields: np.ndarray


def read_header(path: Path) -> tuple[list[str], int, int]:
    """The header's field names, the line it ends on, and the byte offset after it."""
    with path.open("rb") as fh:
        head = fh.read(1024 * 1024)
    offset = len(BOM) if head.startswith(BOM) else 0
    line = 0
    while True:
        end = head.find(b"\n", offset)
        raw = head[offset:] if end < 0 else head[offset:end]
        line += 1
        text = raw.decode("utf-8", errors="replace").strip()
        if text:
            names = next(csv.reader([text]))
            return [n.strip() for n in names], line, (len(head) if end < 0 else end + 1)
        if end < 0:
            raise CsvFormatError("the file is empty: a header row is required")
        offset = end + 1


def iter_blocks(path: Path, ncols: int, start_offset: int, start_line: int,
                block_bytes: int) -> Iterator[CsvBlock]:
    """Yield blocks of whole records after the header."""
    with path.open("rb") as fh:
        fh.seek(start_offset)
        yield from _blocks(fh, ncols, start_offset, start_line, block_bytes)


def _blocks(fh: BinaryIO, ncols: int, offset: int, lines_before: int,
            block_bytes: int) -> Iterator[CsvBlock]:
    pending = b""
    while True:
        chunk = fh.read(block_bytes)
        eof = not chunk
        buf = pending + chunk
        if not buf:
            return
        added = 0  # a newline supplied for a last line without one: not a byte of the file
        if eof and not buf.endswith(b"\n"):
            buf += b"\n"
            added = 1
        cut = _last_record_end(buf)
        if cut < 0:
            if eof:  # an opening quote never closed: the rest of the file is one bad record
                yield CsvBlock(b"", np.empty(0, dtype=np.int64),
                               rejected=[(lines_before + 1, "unterminated_quote")],
                               end_offset=offset + len(buf) - added)
                return
            if len(buf) > MAX_RECORD_BYTES:
                raise CsvFormatError(f"a record starting on line {lines_before + 1} is larger "
                                     "than 64 MiB (unterminated quote?)")
            pending = buf
            continue
        body, pending = buf[: cut + 1], buf[cut + 1:]
        offset += len(body)
        block = _make_block(body, ncols, lines_before)
        block.end_offset = offset - (added if not pending else 0)
        lines_before += body.count(b"\n")
        yield block
        if eof and not pending:
            return


def _last_record_end(buf: bytes) -> int:
    """Offset of the last newline outside quotes (-1 when there is none)."""
    end = buf.rfind(b"\n")
    while end >= 0 and buf.count(b'"', 0, end) % 2:
        end = buf.rfind(b"\n", 0, end)
    return end


def _records(body: bytes, lines_before: int) -> _Records:
    arr = np.frombuffer(body, dtype=np.uint8)
    newlines = np.flatnonzero(arr == _NL)
    commas = np.flatnonzero(arr == _COMMA)
    terminators = newlines
    if body.find(b'"') >= 0:
        inside = np.cumsum(arr == _QUOTE, dtype=np.uint8) & 1  # parity survives wrap-around
        terminators = newlines[inside[newlines] == 0]
        commas = commas[inside[commas] == 0]
    starts = np.concatenate(([0], terminators[:-1] + 1))
    ends = terminators.copy()
    has_cr = (ends > starts) & (arr[np.maximum(ends - 1, 0)] == _CR)
    ends[has_cr] -= 1
    fields = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    lines = lines_before + np.searchsorted(newlines, starts) + 1
    return _Records(starts, ends, lines, fields)


def _make_block(body: bytes, ncols: int, lines_before: int) -> CsvBlock:
    rec = _records(body, lines_before)
    blank = rec.ends == rec.starts
    regular = ~blank & (rec.fields == ncols)
    if int(regular.sum() + blank.sum()) == len(rec.starts):
        return CsvBlock(body, rec.lines[regular], blank_lines=int(blank.sum()))
    return _rebuild(body, rec, ncols)


def _rebuild(body: bytes, rec: _Records, ncols: int) -> CsvBlock:
    """The slow path for blocks with ragged or whitespace-only rows."""
    pieces: list[bytes] = []
    lines: list[int] = []
    block = CsvBlock(b"", np.empty(0, dtype=np.int64))
    for start, end, line, nfields in zip(rec.starts.tolist(), rec.ends.tolist(),
                                         rec.lines.tolist(), rec.fields.tolist(), strict=True):
        record = body[start:end]
        if not record.strip():
            block.blank_lines += 1
        elif nfields > ncols:
            block.rejected.append((line, "too_many_fields"))
        else:
            if nfields < ncols:
                record += b"," * (ncols - nfields)
                block.padded_rows += 1
            pieces.append(record)
            lines.append(line)
    block.data = b"\n".join(pieces) + b"\n" if pieces else b""
    block.lines = np.asarray(lines, dtype=np.int64)
    return block
