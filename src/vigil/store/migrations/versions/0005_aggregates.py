"""Aggregate records of the SQL aggregate store (daily, weekly, monthly layers).

Revision ID: 0005
Revises: 0004
"""

from alembic import op

revision = "0005"
down_revision = "0004"

_JSON = {"duckdb": "JSON", "postgresql": "JSONB"}


def upgrade() -> None:
    dialect = op.get_context().dialect.name
    # IF NOT EXISTS: a database whose recorded revision was set back below 0005 by hand
    # (tests of older upgrades do that) still holds the table; migrating again keeps it.
    op.execute(
        f"""CREATE TABLE IF NOT EXISTS aggregates (
            layer VARCHAR NOT NULL,
            detector VARCHAR NOT NULL,
            entity VARCHAR NOT NULL,
            bucket DATE NOT NULL,
            fields {_JSON[dialect]} NOT NULL,
            written_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (layer, detector, entity, bucket)
        )"""
    )
    if dialect == "postgresql":  # queries by layer and date range without a detector
        op.execute("CREATE INDEX IF NOT EXISTS aggregates_layer_bucket "
                   "ON aggregates (layer, bucket)")
