"""Anomalies, remembered false positives, the detector's cursor, alert rules and deliveries.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"

_TYPES = {
    "duckdb": {"json": "JSON", "double": "DOUBLE"},
    "postgresql": {"json": "JSONB", "double": "DOUBLE PRECISION"},
}


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    t = _TYPES[dialect]
    op.execute("CREATE SEQUENCE anomaly_seq START 1")
    op.execute(
        f"""CREATE TABLE anomalies (
            anomaly_id BIGINT PRIMARY KEY DEFAULT nextval('anomaly_seq'),
            source_id VARCHAR NOT NULL,
            anomaly_type VARCHAR NOT NULL,
            label VARCHAR,
            event_id VARCHAR,
            window_start TIMESTAMPTZ NOT NULL,
            window_end TIMESTAMPTZ NOT NULL,
            local_date DATE NOT NULL,
            local_weekday SMALLINT NOT NULL,
            local_hour SMALLINT NOT NULL,
            score {t["double"]} NOT NULL,
            severity VARCHAR NOT NULL,
            explanation VARCHAR NOT NULL,
            components {t["json"]},
            pattern_key VARCHAR NOT NULL,
            run_id VARCHAR UNIQUE,
            status VARCHAR NOT NULL,
            detected_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )"""
    )
    op.execute(
        """CREATE TABLE false_positives (
            source_id VARCHAR NOT NULL,
            pattern_key VARCHAR NOT NULL,
            severity VARCHAR NOT NULL,
            anomaly_id BIGINT NOT NULL,
            marked_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (source_id, pattern_key)
        )"""
    )
    op.execute(
        """CREATE TABLE detector_cursor (
            name VARCHAR PRIMARY KEY,
            ingest_batch BIGINT NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )"""
    )
    op.execute(
        f"""CREATE TABLE alert_rules (
            rule_id VARCHAR PRIMARY KEY,
            definition {t["json"]} NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL
        )"""
    )
    op.execute("CREATE SEQUENCE delivery_seq START 1")
    op.execute(
        f"""CREATE TABLE alert_deliveries (
            delivery_id BIGINT PRIMARY KEY DEFAULT nextval('delivery_seq'),
            anomaly_id BIGINT NOT NULL,
            rule_id VARCHAR NOT NULL,
            sink VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            attempts INTEGER NOT NULL,
            next_attempt_at TIMESTAMPTZ,
            last_status_code INTEGER,
            last_error VARCHAR,
            payload {t["json"]} NOT NULL,
            created_at TIMESTAMPTZ NOT NULL,
            updated_at TIMESTAMPTZ NOT NULL,
            delivered_at TIMESTAMPTZ
        )"""
    )
    if dialect == "postgresql":
        # The detector reads new events by batch number; batches are appended in order, so a
        # BRIN index is tiny and costs the bulk load next to nothing.
        op.execute("CREATE INDEX events_ingest_batch ON events USING brin (ingest_batch)")
        op.execute("CREATE INDEX anomalies_source_start ON anomalies (source_id, window_start)")
        op.execute("CREATE INDEX alert_deliveries_due "
                   "ON alert_deliveries (status, next_attempt_at)")
