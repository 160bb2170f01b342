"""The ``aggregates`` setting: ``sql`` (the default) or ``influxdb://host:port/db?token=…``.

No Vigil imports here: :mod:`vigil.config` validates the setting with these functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

__all__ = ["InfluxSettings", "check_aggregates_setting", "is_sql_setting", "parse_influx_url"]

SQL_SETTINGS = ("", "sql")
SCHEMES = {"influxdb": "http", "influxdbs": "https"}
DEFAULT_PORT = 8086
_DATABASE = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class InfluxSettings:
    """Where an InfluxDB aggregate store lives."""

    base_url: str  # http(s)://host:port
    database: str
    token: str | None = None

    def __repr__(self) -> str:  # the token stays out of logs
        token = ", token=***" if self.token else ""
        return f"InfluxSettings({self.base_url!r}, {self.database!r}{token})"


def is_sql_setting(setting: str | None) -> bool:
    """Whether the setting picks the SQL store on the main database."""
    return setting is None or setting.strip().lower() in SQL_SETTINGS


def parse_influx_url(url: str) -> InfluxSettings:
    """``influxdb://host[:port]/database[?token=…]`` (``influxdbs://`` for HTTPS)."""
    parts = urlsplit(url.strip())
    shown = url.split("?", 1)[0]  # a token in the query stays out of messages
    if parts.scheme not in SCHEMES:
        raise ValueError(f"expected 'sql' or influxdb://host:port/database, got {shown!r}")
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise ValueError(f"bad port in {shown!r}") from exc
    if not parts.hostname:
        raise ValueError(f"no host in {shown!r}")
    database = parts.path.strip("/")
    if not _DATABASE.fullmatch(database):
        raise ValueError(f"{shown!r} needs a database name of letters, digits, '_' or '-' "
                         "as its path, e.g. influxdb://localhost:8086/vigil")
    query = parse_qs(parts.query)
    unknown = set(query) - {"token"}
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(sorted(unknown))} in the URL "
                         "(only token= is known)")
    token = query.get("token", [None])[-1] or None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return InfluxSettings(f"{SCHEMES[parts.scheme]}://{host}:{port}", database, token)


def check_aggregates_setting(setting: str) -> str:
    """The setting if it is ``sql``/empty or a valid InfluxDB URL, else ValueError."""
    if not is_sql_setting(setting):
        parse_influx_url(setting)
    return setting
