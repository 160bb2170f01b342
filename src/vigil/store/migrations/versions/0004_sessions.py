"""Visit sessions: person entry/exit pairs, kept per grouping (camera, zone).

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"

_TYPES = {
    "duckdb": {"json": "JSON"},
    "postgresql": {"json": "JSONB"},
}


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    t = _TYPES[dialect]
    op.execute(
        f"""CREATE TABLE sessions (
            grouping VARCHAR NOT NULL,
            subject_id VARCHAR NOT NULL,
            source_id VARCHAR NOT NULL,
            zone VARCHAR,
            anchor_ts TIMESTAMPTZ NOT NULL,
            entry_ts TIMESTAMPTZ,
            exit_ts TIMESTAMPTZ,
            duration_ms BIGINT,
            status VARCHAR NOT NULL,
            entry_event_id VARCHAR(128),
            exit_event_id VARCHAR(128),
            local_date DATE NOT NULL,
            local_hour SMALLINT NOT NULL,
            local_weekday SMALLINT NOT NULL,
            attributes {t["json"]}
        )"""
    )
    _create_indexes(dialect)


def _create_indexes(dialect: str) -> None:
    """PostgreSQL only (DuckDB keeps indexes in memory).

    The ingest transaction looks up a person's latest sessions per group, reads their
    entry/exit events from that session on (a partial index: only entry/exit rows, so it
    costs other events nothing) and times out open sessions (a partial index of the few
    open ones).
    """
    if dialect == "postgresql":
        op.execute("CREATE INDEX sessions_group_anchor "
                   "ON sessions (grouping, subject_id, source_id, anchor_ts)")
        op.execute("CREATE INDEX sessions_anchor ON sessions (grouping, anchor_ts)")
        op.execute("CREATE INDEX sessions_open ON sessions (entry_ts) WHERE status = 'open'")
        op.execute("CREATE INDEX events_subject_ts ON events (subject_id, source_id, ts) "
                   "WHERE event_type IN ('entry', 'exit')")
