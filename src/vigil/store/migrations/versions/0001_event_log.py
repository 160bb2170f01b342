"""Event log, sources, hourly counts, API keys and uploads.

Revision ID: 0001
Revises:
"""

from alembic import op

revision = "0001"
down_revision = None

_TYPES = {
    "duckdb": {"json": "JSON", "double": "DOUBLE", "labels": "VARCHAR[]", "key": ""},
    "postgresql": {"json": "JSONB", "double": "DOUBLE PRECISION", "labels": "TEXT[]",
                   "key": ",\n            PRIMARY KEY (ts, event_id)"},
}
# An event is identified by its id and its timestamp. PostgreSQL enforces that with a
# primary key; DuckDB keeps indexes in memory (about 40 bytes per event, far too much for
# hundreds of millions of events), so the DuckDB store finds stored events with an
# anti-join over the batch's time range instead, which its per-row-group min/max
# statistics keep small.


def upgrade() -> None:
    t = _TYPES[op.get_context().dialect.name]
    op.execute(
        """CREATE TABLE sources (
            source_id VARCHAR PRIMARY KEY,
            timezone VARCHAR NOT NULL,
            created_at TIMESTAMPTZ NOT NULL
        )"""
    )
    op.execute("CREATE SEQUENCE ingest_batch_seq START 1")
    op.execute(
        f"""CREATE TABLE events (
            event_id VARCHAR(128) NOT NULL,
            source_id VARCHAR NOT NULL,
            event_type VARCHAR NOT NULL,
            ts TIMESTAMPTZ NOT NULL,
            labels {t["labels"]} NOT NULL,
            confidence {t["double"]},
            model_id VARCHAR(128),
            frame_id BIGINT,
            subject_id VARCHAR,
            zone VARCHAR,
            state VARCHAR,
            detections {t["json"]},
            attributes {t["json"]},
            local_date DATE NOT NULL,
            local_hour SMALLINT NOT NULL,
            local_weekday SMALLINT NOT NULL,
            ingested_at TIMESTAMPTZ NOT NULL,
            ingest_batch BIGINT NOT NULL{t["key"]}
        )"""
    )
    op.execute(
        """CREATE TABLE hourly_counts (
            source_id VARCHAR NOT NULL,
            event_type VARCHAR NOT NULL,
            label VARCHAR NOT NULL,
            local_date DATE NOT NULL,
            local_hour SMALLINT NOT NULL,
            event_count BIGINT NOT NULL,
            confidence_micros BIGINT NOT NULL,
            confidence_count BIGINT NOT NULL,
            PRIMARY KEY (source_id, event_type, label, local_date, local_hour)
        )"""
    )
    op.execute(
        """CREATE TABLE api_keys (
            key_id VARCHAR PRIMARY KEY,
            key_hash VARCHAR NOT NULL UNIQUE,
            scope VARCHAR NOT NULL,
            name VARCHAR,
            created_at TIMESTAMPTZ NOT NULL
        )"""
    )
    op.execute(
        f"""CREATE TABLE uploads (
            upload_id VARCHAR PRIMARY KEY,
            filename VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            bytes_total BIGINT NOT NULL,
            bytes_done BIGINT NOT NULL,
            rows_read BIGINT NOT NULL,
            report {t["json"]},
            options {t["json"]},
            error VARCHAR,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )"""
    )
    _create_indexes(op.get_context().dialect.name)


def _create_indexes(dialect: str) -> None:
    """Secondary indexes for the read paths.

    On PostgreSQL: the primary key serves time ranges, and one B-tree serves a source's time
    range (every index costs bulk-load speed, so there are no more until a read needs one).
    DuckDB prunes scans with per-row-group min/max statistics instead; its ART indexes live
    in memory and would not scale to the event log.
    """
    if dialect == "postgresql":
        op.execute("CREATE INDEX events_source_ts ON events (source_id, ts)")
