"""Fast ISO 8601 formatting of UTC epoch milliseconds (``2026-03-22T14:03:07.123Z``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vigil.synth.slots import Int64s

DAY_MS = 86_400_000
WIDTH = 24


def _digits(out: np.ndarray, col: int, value: Int64s, width: int) -> None:
    for i in range(width):
        out[:, col + width - 1 - i] = ord("0") + (value // 10**i) % 10


def iso_utc_ms(ms: Int64s) -> pa.StringArray:
    """Format epoch ms (years 1970..9999) as ISO strings, digit by digit with numpy."""
    days, rem = np.divmod(ms, DAY_MS)
    unique_days, inverse = np.unique(days, return_inverse=True)
    dates = np.datetime_as_string(unique_days.astype("datetime64[D]"), unit="D").astype("S10")
    out = np.empty((ms.size, WIDTH), dtype=np.uint8)
    out[:, :10] = dates.view(np.uint8).reshape(-1, 10)[inverse.reshape(-1)]
    for col, char in ((10, "T"), (13, ":"), (16, ":"), (19, "."), (23, "Z")):
        out[:, col] = ord(char)
    hours, rem = np.divmod(rem, 3_600_000)
    minutes, rem = np.divmod(rem, 60_000)
    seconds, millis = np.divmod(rem, 1000)
    for col, value, width in ((11, hours, 2), (14, minutes, 2), (17, seconds, 2), (20, millis, 3)):
        _digits(out, col, value, width)
    offsets = np.arange(ms.size + 1, dtype=np.int32) * WIDTH
    return pa.StringArray.from_buffers(
        ms.size, pa.py_buffer(offsets.tobytes()), pa.py_buffer(out.tobytes())
    )
