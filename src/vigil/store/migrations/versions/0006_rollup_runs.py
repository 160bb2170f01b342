"""The runs ledger of the rollup jobs (daily, weekly, monthly).

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # One row per job and period (the bucket start). events_seen is the period's event count
    # in hourly_counts when it was rolled up: a larger count later means late events arrived
    # and the period is dirty. IF NOT EXISTS: see 0005.
    op.execute(
        """CREATE TABLE IF NOT EXISTS rollup_runs (
            job VARCHAR NOT NULL,
            period DATE NOT NULL,
            events_seen BIGINT NOT NULL,
            rows_written BIGINT NOT NULL,
            started_at TIMESTAMPTZ NOT NULL,
            finished_at TIMESTAMPTZ NOT NULL,
            PRIMARY KEY (job, period)
        )"""
    )
