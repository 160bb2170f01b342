"""Dead letters: messages that could not be ingested, kept for inspection.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.execute("CREATE SEQUENCE dead_letter_seq START 1")
    op.execute(
        """CREATE TABLE dead_letters (
            dead_letter_id BIGINT PRIMARY KEY DEFAULT nextval('dead_letter_seq'),
            received_at TIMESTAMPTZ NOT NULL,
            transport VARCHAR NOT NULL,
            topic VARCHAR,
            reason VARCHAR NOT NULL,
            message VARCHAR NOT NULL,
            payload VARCHAR NOT NULL,
            payload_bytes BIGINT NOT NULL
        )"""
    )
